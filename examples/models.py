"""The models of the examples, built from ``tl.nn`` with torch's layer names.

- :class:`MNISTCNN`: the classic small MNIST network (three 3x3 convolutions, two max-pools,
  two dense layers), used by ``mnist_cnn.py``.
- :class:`SimpleCNN`: two conv/ReLU/max-pool stages and a two-layer classifier, for RGB images of
  any size divisible by 4.
- :func:`resnet18`: ResNet-18 (BasicBlock, BatchNorm2d, AdaptiveAvgPool2d) with torchvision's
  parameter names, so a torchvision ``state_dict`` (as arrays) loads unchanged.
- :class:`TransformerBlock`: the seeds' transformer block for sequence regression: token and
  learned position embeddings, one post-norm self-attention + feed-forward block (residuals,
  dropout, LayerNorm), mean pooling over the sequence and a Linear head, trained with MSE.

Each has a torch twin with copied weights in ``tests/test_models.py``.
"""

from __future__ import annotations

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn


class MNISTCNN(nn.Module):
    """Conv(32, 3x3) ReLU MaxPool(2) Conv(64, 3x3) ReLU MaxPool(2) Conv(64, 3x3) ReLU Flatten
    Linear(64) ReLU Linear(10).

    Shapes: (N, 1, 28, 28) -> 32x26x26 -> 32x13x13 -> 64x11x11 -> 64x5x5 -> 64x3x3 -> 576 -> 64
    -> (N, num_classes).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU())
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class SimpleCNN(nn.Module):
    """Conv(3->64) ReLU MaxPool(2) Conv(64->128) ReLU MaxPool(2) Flatten Linear ReLU Linear.

    Convolutions are 3x3 with padding 1 (they keep the size), so for ``input_size`` (H, W) the
    first Linear takes 128 * (H // 4) * (W // 4) features.

    Args:
        input_size: H (square) or (H, W) of the input images; each at least 4.
        num_classes: outputs of the last layer.
        hidden: width of the hidden Linear layer.
        in_channels: input channels (3 for RGB).
    """

    def __init__(self, input_size: int | tuple[int, int] = 32, num_classes: int = 10,
                 hidden: int = 256, in_channels: int = 3):
        super().__init__()
        h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        if h < 4 or w < 4:
            raise ValueError(f"SimpleCNN: input_size must be at least 4x4 (two 2x2 pools), got "
                             f"{h}x{w}")
        self.input_size = (h, w)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(128 * (h // 4) * (w // 4), hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) with (H, W) == input_size -> (N, num_classes)."""
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f"SimpleCNN: built for {self.input_size[0]}x{self.input_size[1]} "
                             f"inputs, got shape {tuple(x.shape)}")
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN stages with a residual connection: relu(bn2(conv2(relu(bn1(conv1(x)))))
    + shortcut(x)); the shortcut is a strided 1x1 conv + BN when the shape changes."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """ResNet with torchvision's layout: conv1 7x7/2, bn1, relu, maxpool 3x3/2, four stages of
    blocks (64, 128, 256, 512 channels; stages 2-4 halve the size), global average pool, fc.

    Shapes: (N, 3, H, W) -> (N, num_classes); at 32x32 the last stage is 1x1.
    """

    def __init__(self, layers: tuple[int, int, int, int] = (2, 2, 2, 2), num_classes: int = 1000,
                 in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        planes_in = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stage = []
            for b in range(blocks):
                stage.append(BasicBlock(planes_in, planes, 2 if b == 0 and i > 0 else 1))
                planes_in = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-18: two BasicBlocks per stage (11.7M parameters with 1000 classes)."""
    return ResNet((2, 2, 2, 2), num_classes, in_channels)


class TransformerBlock(nn.Module):
    """One post-norm transformer encoder block over token ids with a regression head.

    ``x = embedding(ids) + pos_embedding(positions)``, then
    ``x = norm1(x + dropout1(self_attn(x, x, x)))`` and ``x = norm2(x + dropout2(ff(x)))`` with
    ``ff = Linear(d_model, dim_feedforward) -> ReLU -> Linear(dim_feedforward, d_model)``; the
    output is ``head(mean of x over the (unpadded) positions)``. The attention weights get the
    same dropout probability (as torch's ``TransformerEncoderLayer``). The positions are a
    learned ``Embedding(max_len, d_model)``, so sequences are at most ``max_len`` long.

    Shapes: ids (N, T) integers in [0, vocab_size) -> (N, T, d_model) -> pooled (N, d_model)
    -> (N, out_features).

    Parameter names are torch's (``self_attn.in_proj_weight``, ``self_attn.out_proj.weight``,
    ``ff.0.weight``, ``norm1.weight``, ...), so a torch module built from ``torch.nn`` layers of
    the same names loads this model's ``state_dict``.

    Args:
        vocab_size: number of token ids.
        d_model: embedding and model width; divisible by ``num_heads``.
        num_heads: attention heads.
        dim_feedforward: hidden width of the feed-forward block.
        dropout: dropout probability on the attention weights and both residual branches.
        out_features: outputs of the regression head.
        max_len: longest sequence (size of the position table).
    """

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4,
                 dim_feedforward: int = 128, dropout: float = 0.1, out_features: int = 1,
                 max_len: int = 256):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_embedding = nn.Embedding(max_len, d_model)
        self.self_attn = nn.MultiheadAttention(d_model, num_heads, dropout=dropout,
                                               batch_first=True)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, dim_feedforward), nn.ReLU(),
                                nn.Linear(dim_feedforward, d_model))
        self.dropout2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, out_features)

    def forward(self, ids: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        """Regression outputs for a batch of token sequences.

        Args:
            ids: (N, T) integer token ids, T <= max_len.
            key_padding_mask: None or (N, T) bool, True at padding positions: they are not
                attended to and are left out of the mean; each row needs a real token.

        Returns:
            (N, out_features).
        """
        if ids.ndim != 2 or ids.shape[1] > self.max_len:
            raise ValueError(f"TransformerBlock: expected ids of shape (N, T) with T <= "
                             f"{self.max_len}, got {tuple(ids.shape)}")
        positions = tl.arange(ids.shape[1], device=ids.device)
        x = self.embedding(ids) + self.pos_embedding(positions)
        attended = self.self_attn(x, x, x, key_padding_mask=key_padding_mask,
                                  need_weights=False)[0]
        x = self.norm1(x + self.dropout1(attended))
        x = self.norm2(x + self.dropout2(self.ff(x)))
        if key_padding_mask is None:
            pooled = x.mean(1)
        else:  # the mean over the real tokens only: padded positions hold no information
            keep = (~key_padding_mask).to(x.dtype).unsqueeze(-1)
            pooled = (x * keep).sum(1) / keep.sum(1)
        return self.head(pooled)
