"""``tl.viz``: draw the autograd graph behind a tensor (Graphviz dot).

Boxes are ops (the node class, e.g. ``MatMul``), ellipses are tensors that are not produced by an
op: leaves that require grad (filled) and constants (grey). Arrows run in the forward direction
and carry the shape and dtype of the tensor that flows along them; dashed arrows carry no
gradient. The graph is read from the nodes alone, so it also works after ``backward()`` freed
the saved data.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .autograd import graph_node
from .tensor import Tensor

__all__ = ["to_dot", "draw"]


def _shape(t) -> str:
    dims = ", ".join(str(d) for d in t.shape)
    return f"({dims}{',' if len(t.shape) == 1 else ''}) {t.dtype.name}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor: Tensor, show_constants: bool = True) -> str:
    """Graphviz source of the graph that produced ``tensor``.

    Args:
        tensor: the output to draw from (a tensor without history gives a one-node graph).
        show_constants: also draw inputs that don't require grad (grey ellipses).

    Returns:
        A ``digraph`` in the dot language (render with ``dot -Tpng`` or :func:`draw`).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    ids: dict[int, str] = {}
    keep = []  # hold everything we numbered so ids are not reused while we walk

    def node_id(obj) -> str:
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
            keep.append(obj)
        return ids[id(obj)]

    lines = ["digraph autograd {",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    out_id = node_id(tensor)
    lines.append(f"  {out_id} [label={_quote('output ' + _shape(tensor))}, shape=ellipse, "
                 f"style=filled, fillcolor=\"#d5e8d4\"];")
    root = graph_node(tensor)
    if root is None:
        return "\n".join(lines + ["}"]) + "\n"
    lines.append(f"  {node_id(root)} -> {out_id} [label={_quote(_shape(tensor))}];")
    stack, seen = [root], {id(root)}
    while stack:
        node = stack.pop()
        nid = node_id(node)
        lines.append(f"  {nid} [label={_quote(type(node).__name__)}, shape=box, style=filled, "
                     f"fillcolor=\"#dae8fc\"];")
        inputs = getattr(node, "inputs", None) or ()
        needs = getattr(node, "needs_input_grad", None) or (False,) * len(inputs)
        edges = getattr(node, "edges", None) or (None,) * len(inputs)
        for t, need, edge in zip(inputs, needs, edges):
            if t is None or not hasattr(t, "shape"):
                continue
            style = "" if need else ", style=dashed, color=grey40"
            label = _quote(_shape(t))
            if edge is not None:
                child = edge[0]
                lines.append(f"  {node_id(child)} -> {nid} [label={label}{style}];")
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
            elif getattr(t, "_requires_grad", False):
                lid = node_id(t)
                lines.append(f"  {lid} [label={_quote('leaf ' + _shape(t))}, shape=ellipse, "
                             f"style=filled, fillcolor=\"#fff2cc\"];")
                lines.append(f"  {lid} -> {nid} [label={label}];")
            elif show_constants:
                cid = node_id(t)
                lines.append(f"  {cid} [label={_quote(_shape(t))}, shape=ellipse, "
                             f"color=grey60, fontcolor=grey40];")
                lines.append(f"  {cid} -> {nid} [label={label}{style}];")
    # a tensor used twice is declared twice above: dot merges repeated declarations
    return "\n".join(lines + ["}"]) + "\n"


def draw(tensor: Tensor, path: str | os.PathLike, show_constants: bool = True) -> str:
    """Write the graph to ``path``: ``.dot``/``.gv`` as source, anything else (``.png``,
    ``.svg``, ``.pdf``) rendered by Graphviz's ``dot`` program. Returns the path.

    Raises:
        RuntimeError: when rendering is asked for and Graphviz is not installed.
    """
    path = os.fspath(path)
    source = to_dot(tensor, show_constants)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext in ("dot", "gv", ""):
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(f"draw: rendering '{path}' needs Graphviz's 'dot' program, which was "
                           f"not found on PATH; install Graphviz (e.g. apt-get install graphviz) "
                           f"or write the source with a .dot path")
    result = subprocess.run([exe, f"-T{ext}", "-o", path], input=source, text=True,
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"draw: dot failed to render '{path}': {result.stderr.strip()}")
    return path
