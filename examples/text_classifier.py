"""Which fortune file does a quotation come from? A transformer encoder against two baselines.

    python examples/text_classifier.py                  # 8 categories, a few minutes on the CPU

Data: the quotations of ``--categories`` (default: eight large, distinct files of the Debian
``fortunes`` package, or any directory of fortune files via ``--data-dir``), split 80/20 into
train/test per category with ``--seed``. Words are lower-cased runs of letters/digits (and
single punctuation marks); the vocabulary is the ``--vocab`` most frequent words of the
unlabelled text: every quotation in the corpus directory except the test quotations.

Models, all trained with this engine: a majority-class baseline; bag-of-words logistic
regression (log word counts -> Linear); and the encoder: Embedding + learned positions ->
TransformerEncoder (``--layers`` x TransformerEncoderLayer, padding masked) -> mean over the real
tokens -> Linear. A few thousand labelled quotations are too few to learn 8,000 word vectors
from scratch (the encoder then trails the bag of words), so the word embeddings start from the
unlabelled text's word co-occurrences (positive PMI within ``--window`` words, reduced to
``--d-model`` dimensions by a truncated SVD: :func:`cooccurrence_embeddings`; ``--window 0``
starts from torch's random init instead), and training replaces ``--word-dropout`` of the words
by the unknown word. Both trained models use AdamW with a cosine learning-rate decay and label
smoothing ``--label-smoothing`` (the encoder only: it made the bag of words slightly
worse). Reports test accuracy and macro F1 of each, and the encoder's
confusion matrix.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # training.py

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite import nn  # noqa: E402
from tinygrad_lite.data import DataLoader, TensorDataset  # noqa: E402
from tinygrad_lite.data.text import load_fortunes  # noqa: E402
from tinygrad_lite.nn import functional as F  # noqa: E402
from training import confusion_matrix, format_confusion, macro_scores  # noqa: E402

CATEGORIES = ("computers", "definitions", "people", "politics", "science", "songs-poems",
              "work", "zippy")
PAD, UNK = 0, 1
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def split_corpus(corpus: dict[str, list[str]], seed: int, test_fraction: float = 0.2):
    """(train texts, train labels, test texts, test labels, class names): a seeded split of
    every category (so both sides keep the class proportions)."""
    rng = np.random.default_rng(seed)
    names = sorted(corpus)
    train, test = [], []
    for label, name in enumerate(names):
        entries = corpus[name]
        order = rng.permutation(len(entries))
        cut = int(round(len(entries) * (1 - test_fraction)))
        train += [(entries[i], label) for i in order[:cut]]
        test += [(entries[i], label) for i in order[cut:]]
    rng.shuffle(train)
    return ([t for t, _ in train], np.array([y for _, y in train], np.int64),
            [t for t, _ in test], np.array([y for _, y in test], np.int64), names)


def build_vocab(texts: list[str], size: int) -> dict[str, int]:
    """The ``size`` most frequent training words -> ids 2.. (0 = padding, 1 = unknown)."""
    counts = Counter(w for t in texts for w in tokenize(t))
    return {w: i + 2 for i, (w, _) in enumerate(counts.most_common(size))}


def encode(texts: list[str], vocab: dict[str, int], length: int) -> np.ndarray:
    """(N, length) int64 ids, truncated or padded with PAD (an empty text keeps one UNK)."""
    out = np.full((len(texts), length), PAD, np.int64)
    for i, t in enumerate(texts):
        ids = [vocab.get(w, UNK) for w in tokenize(t)][:length] or [UNK]
        out[i, :len(ids)] = ids
    return out


def bag_of_words(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """(N, vocab_size + 2) float32 word counts (padding column zeroed), log-scaled."""
    counts = np.zeros((ids.shape[0], vocab_size + 2), np.float32)
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    np.add.at(counts, (rows, ids.reshape(-1)), 1.0)
    counts[:, PAD] = 0
    return np.log1p(counts)


def cooccurrence_embeddings(texts: list[str], vocab: dict[str, int], dim: int, window: int,
                            seed: int = 0) -> np.ndarray:
    """Word vectors from unlabelled text: (len(vocab) + 2, dim) float32, unit standard deviation.

    Counts each pair of words at most ``window`` apart in a quotation, weighted 1/distance (a
    symmetric (V, V) matrix), turns the counts into positive pointwise mutual information (with
    the context distribution raised to 0.75, which keeps rare contexts from dominating), and
    keeps the top ``dim`` singular directions scaled by the square roots of their singular
    values (a randomized SVD: two power iterations on a (V, dim + 16) sketch). Rows of PAD and
    UNK are zero. Words that co-occur with the same words get similar vectors, which carries
    what the unlabelled text knows about the rare words into the classifier.
    """
    size = len(vocab) + 2
    ids, doc = [], []
    for i, t in enumerate(texts):
        words = [vocab.get(w, UNK) for w in tokenize(t)]
        ids += words
        doc += [i] * len(words)
    ids, doc = np.array(ids, np.int64), np.array(doc, np.int64)
    counts = np.zeros((size, size), np.float32)
    for offset in range(1, window + 1):
        same = doc[:-offset] == doc[offset:]
        np.add.at(counts, (ids[:-offset][same], ids[offset:][same]), 1.0 / offset)
    counts += counts.T
    counts[:, :UNK + 1] = 0
    counts[:UNK + 1] = 0
    total = max(float(counts.sum()), 1e-12)
    rows = counts.sum(1, keepdims=True)
    context = counts.sum(0, keepdims=True) ** 0.75
    context *= total / max(float(context.sum()), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * total / (rows * context))
    pmi = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0).astype(np.float32)
    sketch = np.random.default_rng(seed).standard_normal((size, dim + 16)).astype(np.float32)
    basis = np.linalg.qr(pmi @ sketch)[0]
    for _ in range(2):  # power iterations sharpen the top of the spectrum
        basis = np.linalg.qr(pmi @ (pmi.T @ basis))[0]
    u, sv, _ = np.linalg.svd(basis.T @ pmi, full_matrices=False)
    k = min(dim, u.shape[1])
    vectors = np.zeros((size, dim), np.float32)
    vectors[:, :k] = (basis @ u[:, :k]) * np.sqrt(sv[:k])
    vectors[:UNK + 1] = 0
    return vectors / max(float(vectors.std()), 1e-12)


class EncoderClassifier(nn.Module):
    """(N, T) ids -> (N, classes): embeddings + positions, TransformerEncoder, masked mean.

    In training mode each real word is replaced by UNK with probability ``word_dropout``.
    """

    def __init__(self, vocab: int, classes: int, length: int, d_model: int = 128,
                 heads: int = 4, layers: int = 1, dropout: float = 0.2,
                 word_dropout: float = 0.0):
        super().__init__()
        self.word_dropout = word_dropout
        self.tok = nn.Embedding(vocab, d_model, padding_idx=PAD)
        self.pos = nn.Embedding(length, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model,
                                           dropout=dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, classes)

    def forward(self, ids: tl.Tensor) -> tl.Tensor:
        pad = ids == PAD
        if self.training and self.word_dropout > 0:
            drop = (tl.rand(*ids.shape, device=ids.device) < self.word_dropout) & ~pad
            ids = tl.where(drop, UNK, ids)
        x = self.tok(ids) + self.pos(tl.arange(ids.shape[1], device=ids.device))
        x = self.norm(self.encoder(x, src_key_padding_mask=pad))
        keep = (~pad).float().unsqueeze(-1)
        return self.head((x * keep).sum(1) / keep.sum(1))


def fit(model: nn.Module, x: tl.Tensor, y: tl.Tensor, epochs: int, lr: float, seed: int,
        batch_size: int, progress: bool, name: str, label_smoothing: float = 0.0) -> None:
    """AdamW (weight decay 0.01), learning rate decayed from ``lr`` to 0 by a cosine per step."""
    opt = tl.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed)
    sched = tl.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    for epoch in range(1, epochs + 1):
        model.train()
        start, total, n = time.perf_counter(), 0.0, 0
        batches = loader
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(loader, desc=f"{name} {epoch}/{epochs}", leave=False, unit="batch")
        for xb, yb in batches:
            loss = F.cross_entropy(model(xb), yb, label_smoothing=label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item(), n + 1
        print(f"{name} epoch {epoch}/{epochs}  train loss {total / n:.4f}  "
              f"{time.perf_counter() - start:.1f} s", flush=True)


@tl.no_grad()
def predict(model: nn.Module, x: tl.Tensor, batch: int = 256) -> np.ndarray:
    model.eval()
    return np.concatenate([model(x[i:i + batch]).argmax(1).numpy()
                           for i in range(0, x.shape[0], batch)])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--data-dir", default=None, help="a directory of fortune files")
    p.add_argument("--categories", default=",".join(CATEGORIES),
                   help="comma-separated file names (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="the encoder's peak learning rate")
    p.add_argument("--bow-lr", type=float, default=1e-2,
                   help="the bag-of-words model's peak learning rate")
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--length", type=int, default=64, help="tokens per quotation (truncated)")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--word-dropout", type=float, default=0.25,
                   help="probability of replacing a training word by the unknown word")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--window", type=int, default=10, help="co-occurrence window of the "
                   "initial word vectors (0: random initial embeddings)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "vocab", "length", "layers", "d_model"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.window < 0:
        p.error("--window must be at least 0")
    for name in ("dropout", "word_dropout", "label_smoothing"):
        if not 0 <= getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be in [0, 1)")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        device = tl.device(args.device)
        corpus = load_fortunes(args.data_dir, [c for c in args.categories.split(",") if c])
        everything = load_fortunes(args.data_dir)
    except (RuntimeError, OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    tl.manual_seed(args.seed)
    train_x, train_y, test_x, test_y, names = split_corpus(corpus, args.seed)
    held_out = set(test_x)  # no test quotation is seen, not even as unlabelled text
    unlabelled = [q for quotes in everything.values() for q in quotes if q not in held_out]
    vocab = build_vocab(unlabelled, args.vocab)
    ids_train, ids_test = encode(train_x, vocab, args.length), encode(test_x, vocab, args.length)
    print(f"{len(names)} categories, {len(train_x)} train / {len(test_x)} test quotations, "
          f"vocabulary {len(vocab) + 2} from {len(unlabelled)} unlabelled quotations")
    results = {}
    majority = np.bincount(train_y).argmax()
    results["majority class"] = macro_scores(confusion_matrix(
        np.full_like(test_y, majority), test_y, len(names)))

    bow_train = tl.tensor(bag_of_words(ids_train, len(vocab)), device=device)
    bow_test = tl.tensor(bag_of_words(ids_test, len(vocab)), device=device)
    logreg = nn.Linear(bow_train.shape[1], len(names)).to(device)
    ys = tl.tensor(train_y, device=device)
    fit(logreg, bow_train, ys, args.epochs, args.bow_lr, args.seed, args.batch_size,
        not args.no_progress, "bag-of-words")
    results["bag-of-words logistic regression"] = macro_scores(confusion_matrix(
        predict(logreg, bow_test), test_y, len(names)))

    model = EncoderClassifier(len(vocab) + 2, len(names), args.length, d_model=args.d_model,
                              layers=args.layers, dropout=args.dropout,
                              word_dropout=args.word_dropout)
    if args.window:
        start = time.perf_counter()
        vectors = cooccurrence_embeddings(unlabelled, vocab, args.d_model, args.window, args.seed)
        model.tok.weight.data = tl.tensor(vectors)
        print(f"initial word vectors from co-occurrences: {time.perf_counter() - start:.1f} s")
    model.to(device)
    fit(model, tl.tensor(ids_train, device=device), ys, args.epochs, args.lr, args.seed,
        args.batch_size, not args.no_progress, "transformer", args.label_smoothing)
    cm = confusion_matrix(predict(model, tl.tensor(ids_test, device=device)), test_y,
                          len(names))
    results["transformer encoder"] = macro_scores(cm)

    print("\nmodel                              test accuracy   macro F1")
    for name, s in results.items():
        print(f"{name:<34} {100 * s['accuracy']:>12.2f}%   {s['f1']:.4f}")
    print("\ntransformer confusion matrix (rows: true class, columns: predicted)")
    print(format_confusion(cm, names))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
