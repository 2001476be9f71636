"""A character-level GPT (decoder-only transformer) trained on the fortunes corpus.

    python examples/char_gpt.py                         # ~10 minutes on a 2-core CPU
    python examples/char_gpt.py --save gpt.safetensors  # then: --load gpt.safetensors --sample 400

Model: token + learned position embeddings, pre-norm blocks (LayerNorm -> causal multi-head
self-attention -> residual, LayerNorm -> 4x GELU MLP -> residual), a final LayerNorm and a linear
read-out. Data: every quotation of the fortune files (Debian package ``fortunes``, or
``--data-dir`` / ``--text``), shuffled by seed and split 90/10 into train/validation by
quotation. Each epoch trains ``--steps`` random windows per batch element and reports the
validation loss in bits per character next to the unigram baseline's (the entropy of the
training text's character frequencies), then prints a sample.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # training.py

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite import nn  # noqa: E402
from tinygrad_lite.data.text import CharVocab, load_fortunes  # noqa: E402
from tinygrad_lite.nn import functional as F  # noqa: E402

LOG2E = 1 / math.log(2)
VAL_WINDOWS = 512  # validation windows per evaluation (49,152 characters at context 96)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention over (N, T, D) with a causal mask (one qkv projection)."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x: tl.Tensor) -> tl.Tensor:
        n, t, d = x.shape
        q, k, v = _split_heads(self.qkv(x), n, t, self.heads)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(n, t, d))


def _split_heads(qkv: tl.Tensor, n: int, t: int, heads: int):
    """(N, T, 3D) -> three (N, heads, T, D/heads) views."""
    d = qkv.shape[-1] // 3
    parts = qkv.reshape(n, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    return parts[0], parts[1], parts[2]


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                 nn.Linear(4 * d_model, d_model), nn.Dropout(dropout))

    def forward(self, x: tl.Tensor) -> tl.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharGPT(nn.Module):
    """(N, T) int64 character ids -> (N, T, vocab) next-character logits."""

    def __init__(self, vocab: int, context: int, d_model: int = 128, layers: int = 4,
                 heads: int = 4, dropout: float = 0.0):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.Sequential(*[Block(d_model, heads, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx: tl.Tensor) -> tl.Tensor:
        t = idx.shape[1]
        if t > self.context:
            raise ValueError(f"CharGPT: sequence length {t} exceeds the context {self.context}")
        x = self.tok(idx) + self.pos(tl.arange(t, device=idx.device))
        return self.head(self.ln_f(self.blocks(x)))


def load_corpus(args) -> tuple[str, str]:
    """(train text, validation text): quotations joined by blank lines, split 90/10."""
    if args.text:
        with open(args.text, encoding="utf-8", errors="replace") as f:
            entries = [e for e in f.read().split("\n\n") if e.strip()]
    else:
        entries = [e for v in load_fortunes(args.data_dir).values() for e in v]
    order = np.random.default_rng(args.seed).permutation(len(entries))
    cut = int(0.9 * len(entries))
    train = "\n\n".join(entries[i] for i in order[:cut]) + "\n\n"
    val = "\n\n".join(entries[i] for i in order[cut:]) + "\n\n"
    return train, val


def unigram_bits(train_ids: np.ndarray, val_ids: np.ndarray, vocab: int) -> float:
    """Bits per character of the validation text under the training text's character
    frequencies (add-one smoothed)."""
    counts = np.bincount(train_ids, minlength=vocab) + 1.0
    return float(-np.log2(counts / counts.sum())[val_ids].mean())


def windows(ids: np.ndarray, starts: np.ndarray, context: int) -> tuple[tl.Tensor, tl.Tensor]:
    """Inputs ids[s:s+T] and targets ids[s+1:s+T+1] for each start (one fancy index each)."""
    offsets = starts[:, None] + np.arange(context)[None, :]
    return tl.tensor(ids[offsets]), tl.tensor(ids[offsets + 1])


@tl.no_grad()
def evaluate_bits(model: CharGPT, ids: np.ndarray, context: int, batch: int = 64) -> float:
    """Mean next-character loss in bits over non-overlapping validation windows (the first
    ``VAL_WINDOWS`` of them: a fixed sample, so epochs compare)."""
    model.eval()
    starts = np.arange(0, len(ids) - context - 1, context)[:VAL_WINDOWS]
    total = 0.0
    for i in range(0, len(starts), batch):
        x, y = windows(ids, starts[i:i + batch], context)
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                 reduction="sum").item()
    return total / (len(starts) * context) * LOG2E


@tl.no_grad()
def sample(model: CharGPT, vocab: CharVocab, length: int, prompt: str = "\n",
           temperature: float = 0.8, seed: int = 0) -> str:
    """``length`` characters continuing ``prompt``, sampled at ``temperature``."""
    model.eval()
    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(prompt))
    for _ in range(length):
        ctx = tl.tensor(np.array(ids[-model.context:])[None, :])
        logits = model(ctx)[0, -1].numpy().astype(np.float64) / temperature
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return vocab.decode(ids[len(prompt):])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--data-dir", default=None, help="a directory of fortune files")
    p.add_argument("--text", default=None, help="a UTF-8 text file instead (paragraphs)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--steps", type=int, default=250, help="training steps per epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--context", type=int, default=96)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, metavar="PATH", help="checkpoint after each epoch")
    p.add_argument("--load", default=None, metavar="PATH", help="generate from a checkpoint")
    p.add_argument("--sample", type=int, default=300, help="characters to sample per epoch")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    for name in ("epochs", "steps", "batch_size", "context", "d_model", "layers", "heads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not args.lr > 0:
        p.error("--lr must be a positive number")
    return args


def _model_from(config: dict, device) -> CharGPT:
    return CharGPT(config["vocab"], config["context"], config["d_model"], config["layers"],
                   config["heads"], config["dropout"]).to(device)


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        device = tl.device(args.device)
        train_text, val_text = (None, None) if args.load else load_corpus(args)
    except (RuntimeError, OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    tl.manual_seed(args.seed)
    if args.load:
        state = tl.load(args.load)
        vocab = CharVocab.from_state_dict(state["vocab"])
        model = _model_from(state["config"], device)
        model.load_state_dict(state["model"])
        print(sample(model, vocab, args.sample, seed=args.seed))
        return {}
    vocab = CharVocab.build([train_text])
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    config = {"vocab": len(vocab), "context": args.context, "d_model": args.d_model,
              "layers": args.layers, "heads": args.heads, "dropout": args.dropout}
    model = _model_from(config, device)
    n_params = sum(p.numel() for p in model.parameters())
    baseline = unigram_bits(train_ids, val_ids, len(vocab))
    print(f"corpus: {len(train_ids):,} train / {len(val_ids):,} validation characters, "
          f"vocabulary {len(vocab)}; model {n_params:,} parameters; unigram baseline "
          f"{baseline:.3f} bits/char")
    opt = tl.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = tl.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * args.steps)
    rng = np.random.default_rng(args.seed)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start, total = time.perf_counter(), 0.0
        steps = range(args.steps)
        if not args.no_progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc=f"epoch {epoch}/{args.epochs}", leave=False, unit="step")
        for _ in steps:
            x, y = windows(train_ids, rng.integers(0, len(train_ids) - args.context - 1,
                                                   args.batch_size), args.context)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item()
        seconds = time.perf_counter() - start
        bits = evaluate_bits(model, val_ids, args.context)
        history.append(bits)
        print(f"epoch {epoch}/{args.epochs}  train loss {total / args.steps * LOG2E:.3f} "
              f"bits/char  validation {bits:.3f} bits/char (unigram {baseline:.3f})  "
              f"{seconds:.1f} s", flush=True)
        if args.sample:
            print("  sample: " + sample(model, vocab, args.sample, seed=epoch).replace(
                "\n", "\n          "))
        if args.save:
            tl.save({"model": model.state_dict(), "config": config,
                     "vocab": vocab.state_dict(), "epoch": epoch}, args.save)
    return {"val_bits": history, "unigram_bits": baseline, "parameters": n_params}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
