"""Fortune-file corpora and the character vocabulary (tl.data.text)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.data.datasets import DatasetNotFoundError
from tinygrad_lite.data.text import (CharVocab, fortune_dir, load_fortunes,
                                     parse_fortunes)
from tinygrad_lite.errors import ShapeError


def test_parse_splits_at_percent_lines_and_cleans_entries():
    text = ("First line\n  indented second\n%\n\n%\nB\x08Bold and _\x08u_\x08l\n%\r\n"
            "last, no trailing percent   \n\n")
    assert parse_fortunes(text) == ["First line\n  indented second", "Bold and ul",
                                    "last, no trailing percent"]
    assert parse_fortunes("") == [] and parse_fortunes("%\n%\n") == []
    assert parse_fortunes("100% sure\n%\n") == ["100% sure"]  # only a bare % separates


@pytest.fixture()
def corpus(tmp_path):
    (tmp_path / "alpha").write_text("a1\n%\na2\n%\na3\n", encoding="utf-8")
    (tmp_path / "beta").write_text("b1\n%\n", encoding="utf-8")
    (tmp_path / "alpha.dat").write_bytes(b"\x00\x01binary index")
    (tmp_path / "alpha.u8").symlink_to(tmp_path / "alpha")
    return tmp_path


def test_load_reads_every_category_and_skips_index_files(corpus):
    assert load_fortunes(corpus) == {"alpha": ["a1", "a2", "a3"], "beta": ["b1"]}
    assert load_fortunes(corpus, min_entries=2) == {"alpha": ["a1", "a2", "a3"]}
    assert load_fortunes(corpus, categories=["beta"]) == {"beta": ["b1"]}


def test_missing_corpus_and_categories_are_clear_errors(corpus, tmp_path, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match=r"no file\(s\) \['gamma'\]"):
        load_fortunes(corpus, categories=["gamma"])
    with pytest.raises(DatasetNotFoundError, match="at least 5 quotations"):
        load_fortunes(corpus, min_entries=5)
    with pytest.raises(DatasetNotFoundError, match="apt-get install fortunes"):
        fortune_dir(tmp_path / "nowhere")
    monkeypatch.setenv("TINYGRAD_LITE_FORTUNES", str(corpus))
    monkeypatch.setattr(tl.data.text, "FORTUNE_DIRS", ())
    assert fortune_dir() == corpus


def test_char_vocab_round_trip_unknowns_and_state():
    vocab = CharVocab.build(["hello", "world\n"])
    assert len(vocab) == 1 + len(set("helloworld\n"))
    ids = vocab.encode("hold\n")
    assert ids.dtype == np.int64 and (ids > 0).all()
    assert vocab.decode(ids) == "hold\n"
    assert vocab.decode(tl.tensor(ids)) == "hold\n"
    assert vocab.encode("hz")[1] == 0 and vocab.decode([0]) == CharVocab.UNKNOWN
    again = CharVocab.from_state_dict(vocab.state_dict())
    assert again.chars == vocab.chars
    with pytest.raises(IndexError, match="id 99 out of range"):
        vocab.decode([99])
    with pytest.raises(ValueError, match="distinct single characters"):
        CharVocab(["a", "a"])


def test_char_vocab_decode_single_ids_and_shape_errors():
    vocab = CharVocab.build(["hello"])
    ids = vocab.encode("hole")
    # a 0-d id (a Python or NumPy int, a 0-d array or Tensor) decodes to one character
    for one in (int(ids[2]), ids[2], np.array(ids[2]), tl.tensor(ids)[2]):
        assert vocab.decode(one) == "l"
    assert vocab.decode(np.array([], np.int64)) == "" and vocab.decode([]) == ""
    with pytest.raises(IndexError, match="id 9 out of range"):
        vocab.decode(9)
    for bad, shape in ((tl.tensor(ids).reshape(2, 2), r"\(2, 2\)"),
                       (ids.reshape(1, 4), r"\(1, 4\)"),
                       (np.zeros((2, 3, 1), np.int64), r"\(2, 3, 1\)")):
        with pytest.raises(ShapeError, match=r"CharVocab\.decode: expected a 1-D sequence of ids "
                                             r"\(T,\) or a single id, got shape " + shape):
            vocab.decode(bad)
    with pytest.raises(ShapeError, match="CharVocab.decode: .*got a nested sequence"):
        vocab.decode([[1, 2], [3, 4]])


def test_the_debian_corpus_when_installed():
    try:
        corpus = load_fortunes(min_entries=100)
    except DatasetNotFoundError as exc:
        pytest.skip(f"{exc} (.ci/run installs the package)")
    assert len(corpus) >= 10
    assert all(e.strip() and "\n%\n" not in e for entries in corpus.values() for e in entries)
    assert sum(map(len, corpus.values())) > 10000
