"""The example models (examples/models.py) against torch twins with copied weights: forward
values and every parameter's gradient, in training and evaluation mode; ResNet-18 also trained
a few SGD + momentum steps side by side, and the transformer block a few Adam steps on MSE, plus
its dropout behaviour and a short run that learns to count a token."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn as tnn

import tinygrad_lite as tl
from tinygrad_lite.nn import functional as F

from example_loader import load_example

models = load_example("models")


# ---- torch twins, written out independently with the same layer names ----------------------
def torch_mnist_cnn() -> tnn.Module:
    m = tnn.Module()
    m.features = tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2),
                                tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2),
                                tnn.Conv2d(64, 64, 3), tnn.ReLU())
    m.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(576, 64), tnn.ReLU(),
                                  tnn.Linear(64, 10))
    m.forward = lambda x: m.classifier(m.features(x))
    return m


def torch_simple_cnn(h: int, w: int, hidden: int = 256) -> tnn.Module:
    m = tnn.Module()
    m.features = tnn.Sequential(tnn.Conv2d(3, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                                tnn.Conv2d(64, 128, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2))
    m.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(128 * (h // 4) * (w // 4), hidden),
                                  tnn.ReLU(), tnn.Linear(hidden, 10))
    m.forward = lambda x: m.classifier(m.features(x))
    return m


class TorchBlock(tnn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                             tnn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet18(tnn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU()
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, c in enumerate((64, 128, 256, 512)):
            setattr(self, f"layer{i + 1}", tnn.Sequential(
                TorchBlock(cin, c, 1 if i == 0 else 2), TorchBlock(c, c, 1)))
            cin = c
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- helpers --------------------------------------------------------------------------------
def copy_into_torch(ours: tl.nn.Module, twin: tnn.Module, dtype) -> None:
    """Copy every parameter and buffer by name (the names must be the same set)."""
    state = ours.state_dict()
    tstate = twin.state_dict()
    assert list(state) == list(tstate)
    for name, value in state.items():
        assert tuple(value.shape) == tuple(tstate[name].shape), name
    twin.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in state.items()})
    twin.to(dtype)


def assert_param_grads_match(ours: tl.nn.Module, twin: tnn.Module, rtol, atol) -> None:
    """Every parameter's gradient equals the torch twin's parameter of the same name."""
    tparams = dict(twin.named_parameters())
    for name, p in ours.named_parameters():
        tl.testing.assert_close(p.grad, tparams[name].grad, rtol=rtol, atol=atol, msg=name)


def check_forward_backward(ours, twin, x: np.ndarray, rtol, atol) -> None:
    """Same logits, same loss gradient on every parameter, same running statistics."""
    xt = torch.from_numpy(x)
    y = np.arange(x.shape[0]) % 10
    out = ours(tl.tensor(x))
    tout = twin(xt)
    tl.testing.assert_close(out, tout, rtol=rtol, atol=atol)
    F.cross_entropy(out, tl.tensor(y)).backward()
    torch.nn.functional.cross_entropy(tout, torch.from_numpy(y)).backward()
    assert_param_grads_match(ours, twin, rtol, atol)
    tbufs = dict(twin.named_buffers())
    for name, b in ours.named_buffers():
        tl.testing.assert_close(b, tbufs[name], rtol=rtol, atol=atol, msg=name)


DTYPES = [(tl.float64, torch.float64, 1e-7, 1e-6), (tl.float32, torch.float32, 1e-4, 1e-5)]
_NP = {torch.float64: np.float64, torch.float32: np.float32}


@pytest.mark.parametrize("dtype,tdtype,rtol,atol", DTYPES, ids=["float64", "float32"])
def test_mnist_cnn_matches_torch(dtype, tdtype, rtol, atol):
    tl.manual_seed(0)
    ours = models.MNISTCNN().to(dtype)
    twin = torch_mnist_cnn()
    copy_into_torch(ours, twin, tdtype)
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(_NP[tdtype])
    check_forward_backward(ours, twin, x, rtol, atol)


@pytest.mark.parametrize("size", [(32, 32), (28, 20), (9, 14)])
def test_simple_cnn_matches_torch_at_any_input_size(size):
    tl.manual_seed(1)
    ours = models.SimpleCNN(size, hidden=32).double()
    twin = torch_simple_cnn(*size, hidden=32)
    copy_into_torch(ours, twin, torch.float64)
    x = np.random.default_rng(2).standard_normal((2, 3, *size))
    check_forward_backward(ours, twin, x, 1e-7, 1e-6)


def test_simple_cnn_rejects_other_input_sizes():
    model = models.SimpleCNN(32)
    with pytest.raises(ValueError, match=r"32x32.*\(1, 3, 28, 28\)"):
        model(tl.zeros(1, 3, 28, 28))
    with pytest.raises(ValueError, match="at least 4x4"):
        models.SimpleCNN((3, 8))


def test_resnet18_names_and_size_match_torchvision_layout():
    ours = models.resnet18()
    twin = TorchResNet18(1000)
    assert list(ours.state_dict()) == list(twin.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in
                                                            twin.parameters()) == 11689512


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_resnet18_at_32x32_matches_torch(train):
    tl.manual_seed(2)
    ours = models.resnet18(num_classes=10).double()
    twin = TorchResNet18(10)
    copy_into_torch(ours, twin, torch.float64)
    ours.train(train)
    twin.train(train)
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 32))
    check_forward_backward(ours, twin, x, 1e-7, 1e-6)


def test_resnet18_sgd_momentum_training_matches_torch():
    """Four SGD(momentum=0.9, weight_decay=5e-4) steps in float64: the same losses and the same
    weights afterwards (BatchNorm in training mode, so its running statistics move too). In
    float32 the two runs drift apart by ~0.2% within four steps at this learning rate: batch
    statistics over 8 values at layer4's 1x1 maps amplify summation-order differences."""
    tl.manual_seed(3)
    ours = models.resnet18(num_classes=10).double()
    twin = TorchResNet18(10)
    copy_into_torch(ours, twin, torch.float64)
    opt = tl.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    topt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 3, 32, 32))
    y = rng.integers(0, 10, 8)
    losses, tlosses = [], []
    for _ in range(4):
        loss = F.cross_entropy(ours(tl.tensor(x)), tl.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        losses.append(loss.item())
        tlosses.append(tloss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    assert losses[-1] < losses[0]  # it learns this batch
    tstate = twin.state_dict()
    for name, value in ours.state_dict().items():
        tl.testing.assert_close(value, tstate[name], rtol=1e-7, atol=1e-7, msg=name)


# ---- the transformer block ------------------------------------------------------------------
class TorchTransformerBlock(tnn.Module):
    """The twin of models.TransformerBlock, written with torch.nn layers of the same names."""

    def __init__(self, vocab_size, d_model, num_heads, dim_feedforward, dropout, out_features,
                 max_len):
        super().__init__()
        self.embedding = tnn.Embedding(vocab_size, d_model)
        self.pos_embedding = tnn.Embedding(max_len, d_model)
        self.self_attn = tnn.MultiheadAttention(d_model, num_heads, dropout=dropout,
                                                batch_first=True)
        self.dropout1 = tnn.Dropout(dropout)
        self.norm1 = tnn.LayerNorm(d_model)
        self.ff = tnn.Sequential(tnn.Linear(d_model, dim_feedforward), tnn.ReLU(),
                                 tnn.Linear(dim_feedforward, d_model))
        self.dropout2 = tnn.Dropout(dropout)
        self.norm2 = tnn.LayerNorm(d_model)
        self.head = tnn.Linear(d_model, out_features)

    def forward(self, ids, key_padding_mask=None):
        x = self.embedding(ids) + self.pos_embedding(torch.arange(ids.shape[1]))
        a = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)[0]
        x = self.norm1(x + self.dropout1(a))
        x = self.norm2(x + self.dropout2(self.ff(x)))
        if key_padding_mask is None:
            return self.head(x.mean(1))
        real = (~key_padding_mask).sum(1, keepdim=True).to(x.dtype)
        return self.head(x.masked_fill(key_padding_mask[..., None], 0.0).sum(1) / real)


_BLOCK = dict(vocab_size=11, d_model=16, num_heads=4, dim_feedforward=24, out_features=2,
              max_len=12)


def transformer_pair(seed: int, dtype, tdtype, dropout: float = 0.0):
    tl.manual_seed(seed)
    ours = models.TransformerBlock(**_BLOCK, dropout=dropout).to(dtype)
    twin = TorchTransformerBlock(**_BLOCK, dropout=dropout)
    copy_into_torch(ours, twin, tdtype)
    return ours, twin


def token_batch(seed: int, n: int = 5, t: int = 9, padded: bool = False):
    """Random ids, a padding mask (None, or True on a random tail of each row, at least one
    real token) and random regression targets (N, out_features)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, _BLOCK["vocab_size"], (n, t))
    mask = None
    if padded:
        mask = np.arange(t)[None, :] >= rng.integers(1, t + 1, (n, 1))
        mask[0] = False  # one full row
    return ids, mask, rng.standard_normal((n, _BLOCK["out_features"]))


def _masks(mask):
    return (None, None) if mask is None else (tl.tensor(mask), torch.from_numpy(mask))


@pytest.mark.parametrize("padded", [False, True], ids=["no_mask", "padding_mask"])
@pytest.mark.parametrize("train,p", [(True, 0.0), (True, 1.0), (False, 0.1)],
                         ids=["train_p0", "train_p1", "eval"])
@pytest.mark.parametrize("dtype,tdtype,rtol,atol", DTYPES, ids=["float64", "float32"])
def test_transformer_block_matches_torch(dtype, tdtype, rtol, atol, train, p, padded):
    """Same outputs and the same MSE gradient on every parameter. Evaluation mode is built with
    dropout 0.1 (evaluation must switch it off). Training with dropout 0 runs every path;
    training with dropout 1 zeroes every dropout site (attention weights and both residual
    branches), deterministically, so it pins where dropout is applied."""
    ours, twin = transformer_pair(5, dtype, tdtype, dropout=p)
    ours.train(train)
    twin.train(train)
    ids, mask, y = token_batch(6, padded=padded)
    y = y.astype(_NP[tdtype])
    kpm, tkpm = _masks(mask)
    out = ours(tl.tensor(ids), kpm)
    tout = twin(torch.from_numpy(ids), tkpm)
    assert out.shape == (5, 2) and out.dtype is dtype
    tl.testing.assert_close(out, tout, rtol=rtol, atol=atol)
    F.mse_loss(out, tl.tensor(y)).backward()
    torch.nn.functional.mse_loss(tout, torch.from_numpy(y)).backward()
    assert_param_grads_match(ours, twin, rtol, atol)
    if padded:  # a padded token changes nothing: neither attended to nor pooled
        ids2 = np.where(mask, (ids + 1) % _BLOCK["vocab_size"], ids)
        tl.testing.assert_close(ours(tl.tensor(ids2), kpm), out, rtol=rtol, atol=atol)


def test_transformer_block_adam_training_matches_torch():
    """Six Adam steps on MSE in float64 (dropout 0, padding mask): the same losses each step
    and the same parameters afterwards."""
    ours, twin = transformer_pair(7, tl.float64, torch.float64)
    opt = tl.optim.Adam(ours.parameters(), lr=1e-2)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-2)
    ids, mask, y = token_batch(8, n=8, padded=True)
    kpm, tkpm = _masks(mask)
    losses, tlosses = [], []
    for _ in range(6):
        loss = F.mse_loss(ours(tl.tensor(ids), kpm), tl.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.mse_loss(twin(torch.from_numpy(ids), tkpm),
                                             torch.from_numpy(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        losses.append(loss.item())
        tlosses.append(tloss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    assert losses[-1] < 0.8 * losses[0]  # Adam fits this batch
    tstate = twin.state_dict()
    for name, value in ours.state_dict().items():
        tl.testing.assert_close(value, tstate[name], rtol=1e-7, atol=1e-9, msg=name)


def test_transformer_block_dropout_only_in_training():
    tl.manual_seed(9)
    model = models.TransformerBlock(**_BLOCK, dropout=0.3).double()
    assert model.self_attn.dropout == 0.3  # on the attention weights too, as documented
    ids = tl.tensor(token_batch(10, n=16)[0])
    with tl.no_grad():
        a, b = model(ids), model(ids)
        model.eval()
        c, d = model(ids), model(ids)
    assert not np.allclose(a.numpy(), b.numpy())  # a fresh dropout mask each call
    np.testing.assert_array_equal(c.numpy(), d.numpy())
    # training outputs scatter around the evaluation outputs (inverted dropout keeps the
    # expected activations): the mean of 40 passes is much closer to them than one pass is
    with tl.no_grad():
        model.train()
        passes = np.stack([model(ids).numpy() for _ in range(40)])
    one_pass = np.abs(passes - c.numpy()).mean()
    assert one_pass > 1e-3
    assert np.abs(passes.mean(0) - c.numpy()).mean() < 0.5 * one_pass


def test_transformer_block_learns_to_count_a_token():
    """Regress the number of token 0 in a sequence of 10 ids from 5: 150 Adam steps bring the
    MSE far below the target's variance (the loss of predicting the mean)."""
    tl.manual_seed(11)
    rng = np.random.default_rng(12)
    model = models.TransformerBlock(5, d_model=16, num_heads=2, dim_feedforward=32, dropout=0.0,
                                    out_features=1, max_len=10)
    opt = tl.optim.Adam(model.parameters(), lr=3e-3)
    def batch(n):
        ids = rng.integers(0, 5, (n, 10))
        return tl.tensor(ids), tl.tensor((ids == 0).sum(1, keepdims=True).astype(np.float32))
    test_ids, test_y = batch(512)
    variance = float(test_y.numpy().var())
    for _ in range(150):
        ids, y = batch(64)
        loss = F.mse_loss(model(ids), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with tl.no_grad():
        mse = F.mse_loss(model(test_ids), test_y).item()
    assert mse < 0.1 * variance, (mse, variance)
