"""Text data for the language examples: fortune-file corpora and a character vocabulary.

A fortune file (the Debian package ``fortunes`` installs one per category under
``/usr/share/games/fortunes``) holds quotations separated by lines that contain only ``%``.
:func:`load_fortunes` reads a directory of them into ``{category: [quotation, ...]}``;
:class:`CharVocab` maps characters to int64 ids and back.
"""

from __future__ import annotations

import numbers
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import ShapeError
from .datasets import DatasetNotFoundError

FORTUNE_DIRS = ("/usr/share/games/fortunes", "/usr/share/fortune", "/usr/share/fortunes")
_OVERSTRIKE = re.compile(".\x08")  # "_\bx" / "x\bx": old terminals' underline and bold


def parse_fortunes(text: str) -> list[str]:
    """The quotations of one fortune file's text: split at lines holding only ``%``, with
    terminal overstrike sequences removed, surrounding blank lines stripped, empty ones dropped.
    """
    text = _OVERSTRIKE.sub("", text.replace("\r\n", "\n"))
    entries, current = [], []
    for line in text.split("\n"):
        if line.strip() == "%":
            entries.append("\n".join(current).strip("\n"))
            current = []
        else:
            current.append(line.rstrip())
    entries.append("\n".join(current).strip("\n"))
    return [e for e in entries if e.strip()]


def fortune_dir(root: str | os.PathLike | None = None) -> Path:
    """The corpus directory: ``root`` if given, else ``$TINYGRAD_LITE_FORTUNES``, else the first
    of :data:`FORTUNE_DIRS` that exists. Raises DatasetNotFoundError saying how to get one."""
    candidates = [Path(root)] if root is not None else \
        [Path(p) for p in filter(None, [os.environ.get("TINYGRAD_LITE_FORTUNES")])] + \
        [Path(p) for p in FORTUNE_DIRS]
    for path in candidates:
        if path.is_dir():
            return path
    raise DatasetNotFoundError(
        "fortunes: no corpus directory found; looked in " + ", ".join(map(str, candidates))
        + ". Install the Debian package (apt-get install fortunes), or pass a directory of "
          "fortune files (quotations separated by lines holding only '%').")


def load_fortunes(root: str | os.PathLike | None = None,
                  categories: Iterable[str] | None = None,
                  min_entries: int = 1) -> dict[str, list[str]]:
    """Read every fortune file in the corpus directory (see :func:`fortune_dir`).

    Args:
        root: a directory of fortune files (default: the lookup of :func:`fortune_dir`).
        categories: only these file names (each must exist); default all. The ``.dat`` index
            files and ``.u8`` links of the Debian package are skipped.
        min_entries: drop categories with fewer quotations than this.

    Returns:
        ``{category: [quotation, ...]}`` in sorted category order, file order within each.
    """
    directory = fortune_dir(root)
    if categories is None:
        names = sorted(p.name for p in directory.iterdir() if p.is_file() and not p.is_symlink()
                       and p.suffix not in (".dat", ".u8"))
    else:
        names = list(categories)
        missing = [n for n in names if not (directory / n).is_file()]
        if missing:
            raise DatasetNotFoundError(f"fortunes: no file(s) {missing} in {directory}")
    corpus = {}
    for name in names:
        entries = parse_fortunes((directory / name).read_text(encoding="utf-8",
                                                              errors="replace"))
        if len(entries) >= min_entries:
            corpus[name] = entries
    if not corpus:
        raise DatasetNotFoundError(f"fortunes: no fortune file with at least {min_entries} "
                                   f"quotations in {directory}")
    return corpus


class CharVocab:
    """Characters <-> int64 ids. Id 0 is reserved for characters not seen when building.

    Example:
        >>> vocab = CharVocab.build(["hello"])
        >>> vocab.decode(vocab.encode("hole"))
        'hole'
    """

    UNKNOWN = "\ufffd"

    def __init__(self, chars: Sequence[str]):
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("CharVocab: expected distinct single characters")
        self.chars = [self.UNKNOWN] + [c for c in chars if c != self.UNKNOWN]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, texts: Iterable[str]) -> "CharVocab":
        """The vocabulary of every character in ``texts``, sorted."""
        seen: set[str] = set()
        for t in texts:
            seen.update(t)
        return cls(sorted(seen))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """(len(text),) int64 ids; unseen characters map to 0."""
        get = self.index.get
        return np.fromiter((get(c, 0) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        """The text of a sequence of ids.

        Args:
            ids: a 1-D sequence of ints (a list, NumPy array or Tensor of shape (T,)); a single
                id (a Python int or a 0-d array/Tensor) decodes to one character.

        Returns:
            The text, ``T`` characters long.
        """
        shape = tuple(ids.shape) if hasattr(ids, "shape") else None
        if isinstance(ids, numbers.Integral) or shape == ():
            ids = [int(ids)]  # one id, one character
        elif shape is not None and len(shape) != 1:
            raise ShapeError(f"CharVocab.decode: expected a 1-D sequence of ids (T,) or a single "
                             f"id, got shape {shape}")
        else:
            ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        if any(isinstance(i, (list, tuple)) for i in ids):
            raise ShapeError("CharVocab.decode: expected a 1-D sequence of ids (T,) or a single "
                             "id, got a nested sequence")
        if any(not 0 <= i < len(self.chars) for i in ids):
            bad = next(i for i in ids if not 0 <= i < len(self.chars))
            raise IndexError(f"CharVocab.decode: id {bad} out of range for {len(self)} symbols")
        return "".join(self.chars[i] for i in ids)

    def state_dict(self) -> dict:
        """The characters as one string (for checkpoints)."""
        return {"chars": "".join(self.chars[1:])}

    @classmethod
    def from_state_dict(cls, state: dict) -> "CharVocab":
        return cls(list(state["chars"]))
