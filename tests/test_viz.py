"""tl.viz: the dot source names the ops, shapes and grad-requiring leaves of a graph."""

import re
import shutil

import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn, viz


def _edges(src):
    return re.findall(r"(n\d+) -> (n\d+)", src)


def _labels(src):
    return dict(re.findall(r"^  (n\d+) \[label=\"([^\"]*)\"", src, re.M))


def test_mlp_graph_names_ops_shapes_and_leaves():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    loss = model(tl.randn(5, 4)).sum()
    src = tl.viz.to_dot(loss)
    assert src.startswith("digraph autograd {") and src.rstrip().endswith("}")
    labels = _labels(src)
    ops = sorted(v for v in labels.values() if not v.startswith(("leaf", "output", "(")))
    assert ops == ["Linear", "Relu", "Sum"]
    leaves = sorted(v for v in labels.values() if v.startswith("leaf"))
    assert leaves == ["leaf (3, 4) float32", "leaf (3,) float32"]  # weight, bias
    assert "(5, 4) float32" in labels.values()  # the input: a constant
    assert 'label="(5, 3) float32"' in src  # Linear -> Relu edge carries the shape
    assert "style=dashed" in src  # the input gets no gradient
    assert all(v != "(5, 4) float32" for v in _labels(viz.to_dot(loss, False)).values())


def test_reused_tensor_is_one_node_with_two_edges_and_survives_backward():
    x = tl.randn(3, requires_grad=True)
    y = x.exp()
    z = (y * y).sum()
    before = viz.to_dot(z)
    labels = _labels(before)
    exp_id = next(k for k, v in labels.items() if v == "Exp")
    mul_id = next(k for k, v in labels.items() if v == "Mul")
    assert _edges(before).count((exp_id, mul_id)) == 2
    assert list(labels.values()).count("Exp") == 1
    z.backward()
    assert viz.to_dot(z) == before  # drawn from the nodes only: works after release


def test_tensor_without_history_and_errors(tmp_path, monkeypatch):
    src = viz.to_dot(tl.ones(2))
    assert len(_labels(src)) == 1 and "output (2,) float32" in src
    with pytest.raises(TypeError, match="to_dot"):
        viz.to_dot([1, 2])
    x = tl.randn(2, requires_grad=True)
    path = viz.draw(x * 2, tmp_path / "g.dot")
    assert open(path).read() == viz.to_dot(x * 2)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz"):
        viz.draw(x * 2, tmp_path / "g.png")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_draw_renders_png(tmp_path):
    x = tl.randn(2, 2, requires_grad=True)
    out = viz.draw((x @ x).sum(), tmp_path / "g.png")
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
