"""The text examples (examples/char_gpt.py, examples/text_classifier.py) on small generated
fortune corpora: their pieces, their CLI and that they learn."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl

from example_loader import load_example

gpt = load_example("char_gpt")
clf = load_example("text_classifier")


@pytest.fixture(scope="module")
def tiny_fortunes(tmp_path_factory):
    """Three categories whose quotations use different words (learnable), 60 quotations each."""
    root = tmp_path_factory.mktemp("fortunes")
    rng = np.random.default_rng(0)
    words = {"alpha": ["apple", "avocado", "apricot"], "beta": ["bear", "bison", "badger"],
             "gamma": ["guitar", "gong", "glockenspiel"]}
    for name, pool in words.items():
        entries = [" ".join(rng.choice(pool + ["the", "a", "and"], size=rng.integers(3, 9)))
                   for _ in range(60)]
        (root / name).write_text("\n%\n".join(entries) + "\n%\n", encoding="utf-8")
    return root


def test_char_gpt_is_causal():
    """Changing a later character never changes the logits at earlier positions."""
    tl.manual_seed(0)
    model = gpt.CharGPT(vocab=11, context=8, d_model=16, layers=2, heads=2)
    model.eval()
    ids = np.random.default_rng(0).integers(0, 11, (2, 8))
    changed = ids.copy()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    with tl.no_grad():
        a, b = model(tl.tensor(ids)).numpy(), model(tl.tensor(changed)).numpy()
    np.testing.assert_allclose(a[:, :5], b[:, :5], rtol=1e-6, atol=1e-6)
    assert not np.allclose(a[:, 5:], b[:, 5:])
    with pytest.raises(ValueError, match="exceeds the context 8"):
        model(tl.tensor(np.zeros((1, 9), np.int64)))


def test_unigram_baseline_is_the_cross_entropy_of_character_frequencies():
    train, val = np.array([1, 1, 1, 2]), np.array([1, 2])
    counts = np.array([0, 3, 1]) + 1.0
    p = counts / counts.sum()
    assert gpt.unigram_bits(train, val, 3) == pytest.approx(-np.log2(p[[1, 2]]).mean())


def test_char_gpt_trains_saves_and_generates(tiny_fortunes, tmp_path, capsys):
    ckpt = tmp_path / "gpt.safetensors"
    out = gpt.main(["--data-dir", str(tiny_fortunes), "--epochs", "2", "--steps", "30",
                    "--context", "16", "--d-model", "32", "--layers", "1", "--heads", "2",
                    "--batch-size", "16", "--lr", "3e-3", "--sample", "40", "--no-progress",
                    "--save", str(ckpt)])
    text = capsys.readouterr().out
    assert "unigram baseline" in text and "epoch 2/2" in text and "sample:" in text
    assert out["val_bits"][-1] < out["unigram_bits"]  # learns beyond character frequencies
    generated = gpt.main(["--load", str(ckpt), "--sample", "25"])
    assert generated == {}
    assert len(capsys.readouterr().out.rstrip("\n")) >= 1


def test_classifier_pieces():
    assert clf.tokenize("Hello, World's 2 cats!") == ["hello", ",", "world's", "2", "cats",
                                                       "!"]
    vocab = clf.build_vocab(["a b b", "b c"], size=2)
    assert vocab == {"b": 2, "a": 3}
    ids = clf.encode(["b a c", ""], vocab, length=4)
    np.testing.assert_array_equal(ids, [[2, 3, clf.UNK, clf.PAD], [clf.UNK, 0, 0, 0]])
    bow = clf.bag_of_words(ids, len(vocab))
    np.testing.assert_allclose(bow[0], np.log1p([0, 1, 1, 1]))
    corpus = {"x": [f"x{i}" for i in range(10)], "y": [f"y{i}" for i in range(5)]}
    tr, ytr, te, yte, names = clf.split_corpus(corpus, seed=0)
    assert names == ["x", "y"] and len(tr) == 12 and len(te) == 3
    assert sorted(tr + te) == sorted(corpus["x"] + corpus["y"])
    assert np.bincount(yte).tolist() == [2, 1]


def test_cooccurrence_embeddings_put_interchangeable_words_together():
    # "cat" and "dog" appear in the same contexts, "stone" in others: PPMI-SVD vectors must make
    # cat~dog far more similar than cat~stone (cosine), zero PAD/UNK rows, unit std, any dim.
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(200):
        pet = rng.choice(["cat", "dog"])
        texts.append(f"the {pet} eats food and sleeps on the sofa")
        texts.append("a stone lies in the river bed under cold water")
    vocab = clf.build_vocab(texts, size=50)
    vec = clf.cooccurrence_embeddings(texts, vocab, dim=4, window=3)
    assert vec.shape == (len(vocab) + 2, 4) and vec.dtype == np.float32
    np.testing.assert_array_equal(vec[[clf.PAD, clf.UNK]], 0)
    assert vec.std() == pytest.approx(1.0, rel=1e-5)

    def cos(a, b):
        u, v = vec[vocab[a]], vec[vocab[b]]
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    assert cos("cat", "dog") > 0.95 and cos("cat", "stone") < 0.5
    wide = clf.cooccurrence_embeddings(texts, vocab, dim=64, window=2)  # dim > vocabulary
    assert wide.shape == (len(vocab) + 2, 64) and np.isfinite(wide).all()


def test_word_dropout_replaces_only_real_words_in_training_mode():
    model = clf.EncoderClassifier(10, 2, 6, d_model=8, heads=2, word_dropout=0.5)
    seen = []
    model.tok.register_forward_hook(lambda m, inp, out: seen.append(inp[0].numpy().copy()))
    ids = tl.tensor(np.array([[5, 6, 7, 8, 0, 0]] * 200))
    tl.manual_seed(0)
    model.train()
    model(ids)
    got = seen[-1]
    assert (got[:, 4:] == clf.PAD).all()
    replaced = got[:, :4] == clf.UNK
    assert 0.45 < replaced.mean() < 0.55
    assert ((got[:, :4] == ids.numpy()[:, :4]) | replaced).all()
    model.eval()
    model(ids)
    np.testing.assert_array_equal(seen[-1], ids.numpy())


def test_classifier_beats_the_majority_baseline(tiny_fortunes, capsys):
    results = clf.main(["--data-dir", str(tiny_fortunes), "--categories", "alpha,beta,gamma",
                        "--epochs", "4", "--batch-size", "8", "--length", "12", "--layers", "1",
                        "--no-progress"])
    out = capsys.readouterr().out
    assert "transformer confusion matrix" in out and "macro F1" in out
    majority = results["majority class"]["accuracy"]
    assert majority == pytest.approx(1 / 3)
    assert results["bag-of-words logistic regression"]["accuracy"] > 0.9
    assert results["transformer encoder"]["accuracy"] > 0.9


def test_unknown_category_is_a_clear_error(tiny_fortunes):
    with pytest.raises(SystemExit, match="no file"):
        clf.main(["--data-dir", str(tiny_fortunes), "--categories", "alpha,nope",
                  "--no-progress"])
