"""The backward pass: ``backward`` and ``grad`` over the graph that ``autograd.py`` records.

It walks the graph iteratively: nodes are numbered in creation order, and a node is always
created after every node it consumes from, so popping the highest number first from a heap
visits each node only after all of its consumers have delivered their gradients. A chain of
100,000 ops therefore needs no recursion.
"""

from __future__ import annotations

import heapq

from . import autograd


def _check_grad(node, i, inp, g):
    """Make a gradient fit its input: a custom backward may return a broadcast shape (summed
    back, as torch does) or another dtype (cast); any other shape is an error."""
    if g.shape != inp.shape and _expands_to(inp.shape, g.shape):
        from .ops._base import unbroadcast

        g = unbroadcast(g, inp.shape)
    if g.shape != inp.shape:
        raise RuntimeError(
            f"{node.name()}: backward returned a gradient of shape {tuple(g.shape)} for input {i}, "
            f"expected {tuple(inp.shape)}"
        )
    return g if g.dtype is inp.dtype else g.to(inp.dtype)


def _fix_count(node, in_grads: tuple) -> tuple:
    """Surplus trailing Nones are fine (torch); any other count mismatch is an error."""
    n = len(node.inputs)
    if len(in_grads) > n and all(g is None for g in in_grads[n:]):
        return in_grads[:n]
    raise RuntimeError(
        f"{node.name()}: backward returned an incorrect number of gradients "
        f"(expected {n}, one per forward input, got {len(in_grads)})")


def _expands_to(shape, target) -> bool:
    if len(target) < len(shape):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))


def run_backward(roots, root_grads, retain_graph: bool, create_graph: bool, capture=None):
    """Propagate ``root_grads`` from ``roots`` through the graph.

    Args:
        roots, root_grads: output tensors and their gradients (same shapes).
        capture: tensors whose gradients are returned instead of accumulated into ``.grad``
            (``autograd.grad``); ``None`` means accumulate into leaves (``Tensor.backward``).

    Returns:
        The captured gradients (list aligned with ``capture``; ``None`` where unreached).
    """
    heap: list = []
    pending: dict = {}  # node -> per-output gradient list
    leaves: dict = {}  # id(leaf) -> [leaf, gradient]
    captured = [None] * len(capture) if capture is not None else None
    cap_nodes = {}
    cap_leaves = {}
    for k, t in enumerate(capture or ()):
        if t._node is not None:
            cap_nodes.setdefault(autograd.graph_node(t), []).append((t._out_idx, k))
        else:
            cap_leaves.setdefault(id(t), []).append(k)

    def deliver(t, edge, g):
        if edge is None:
            entry = leaves.get(id(t))
            if entry is None:
                leaves[id(t)] = [t, g]
            else:
                entry[1] = entry[1] + g
            return
        node, i = edge
        grads = pending.get(node)
        if grads is None:
            grads = pending[node] = [None] * node.n_outputs
            heapq.heappush(heap, (-node.seq, node))
        grads[i] = g if grads[i] is None else grads[i] + g

    prev_mode = autograd._mode.enabled
    autograd._mode.enabled = create_graph
    try:
        for t, g in zip(roots, root_grads):
            node = autograd.graph_node(t)
            deliver(t, None if node is None else (node, t._out_idx), g)
        while heap:
            node = heapq.heappop(heap)[1]
            grads = pending.pop(node)
            if node.hooks or node.retained:
                _run_node_hooks(node, grads, create_graph)
            if node in cap_nodes:
                for i, k in cap_nodes[node]:
                    if grads[i] is not None:  # an unused sibling output stays None
                        captured[k] = _owned(grads[i], create_graph)
            if node.freed or node.versions:
                node._check_saved()
            if node.n_outputs != 1 and any(g is None for g in grads):  # unused outputs
                grads = [g if g is not None or node.out_meta[i] is None
                         else _zeros(node.out_meta[i], node.device)
                         for i, g in enumerate(grads)]
            in_grads = type(node).backward(node, *grads)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(node.inputs):
                in_grads = _fix_count(node, in_grads)
            for i, (inp, edge, need, g) in enumerate(zip(node.inputs, node.edges,
                                                         node.needs_input_grad, in_grads)):
                if need and g is not None:
                    if g.dtype is not inp.dtype or g._data.shape != inp.shape:
                        g = _check_grad(node, i, inp, g)
                    deliver(inp, edge, g)
            if not retain_graph:
                node._release()
        for t, g in leaves.values():
            for hook in t._hooks or ():
                r = hook(g)
                g = r if r is not None else g
            if captured is not None:
                for k in cap_leaves.get(id(t), ()):
                    captured[k] = _owned(g, create_graph)
            else:
                _accumulate(t, g, create_graph)
    finally:
        autograd._mode.enabled = prev_mode
    return captured


def _owned(g, create_graph: bool):
    """A gradient the caller may keep and modify: backward results can alias each other (add
    passes one gradient to both inputs) or be read-only broadcast views (sum's backward)."""
    if create_graph:
        return g.clone()  # a differentiable copy
    return autograd.Tensor._make(g._device.xp.array(g._data, copy=True), g._device)


def _accumulate(t, g, create_graph: bool) -> None:
    """``t.grad += g``: in place into a buffer we own, out of place when building a graph."""
    if t.grad is None:
        t.grad = _owned(g, create_graph)
    elif create_graph or t.grad._requires_grad:
        t.grad = t.grad + g
    else:
        t.grad._data += g._data
        t.grad._vc[0] += 1


def _run_node_hooks(node, grads, create_graph):
    for i, hooks in (node.hooks or {}).items():
        for hook in list(hooks):
            r = hook(grads[i])
            grads[i] = r if r is not None else grads[i]
    for i, ref in (node.retained or {}).items():
        t = ref()
        if t is not None and grads[i] is not None:
            _accumulate(t, grads[i], create_graph)


def _zeros(meta, device):
    shape, dtype = meta
    return autograd.Tensor._make(device.xp.zeros(shape, dtype=dtype.np), device, None, 0)


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _default_grads(outputs, grad_outputs, op):
    grads = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"{op}: got {len(outputs)} outputs but {len(grads)} grad_outputs")
    result = []
    for k, (t, g) in enumerate(zip(outputs, grads)):
        if not t.requires_grad:
            raise RuntimeError(
                f"{op}: element {k} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs "
                    f"(output {k} has shape {tuple(t.shape)}); pass gradient=/grad_outputs="
                )
            ones = t._device.xp.ones(t.shape, dtype=t.dtype.np)
            g = autograd.Tensor._make(ones, t._device, None, 0)
        elif not isinstance(g, autograd.Tensor):
            g = autograd.Tensor(g, dtype=t.dtype, device=t._device)
        if g.dtype is not t.dtype:
            g = g.to(t.dtype)  # torch casts the upstream gradient to the output's dtype
        if g.shape != t.shape:
            raise RuntimeError(
                f"{op}: mismatch in shape: grad_output[{k}] has shape {tuple(g.shape)} and "
                f"output[{k}] has shape {tuple(t.shape)}"
            )
        result.append(g)
    return result


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (torch.autograd.backward)."""
    outputs = _as_tuple(tensors)
    grads = _default_grads(outputs, grad_tensors, "backward")
    retain = create_graph if retain_graph is None else retain_graph
    run_backward(outputs, grads, retain, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Gradients of ``outputs`` w.r.t. ``inputs``, returned as a tuple; ``.grad`` is untouched.

    Args:
        outputs: tensor or sequence of tensors to differentiate.
        inputs: tensor or sequence of tensors (leaf or not) that require grad.
        grad_outputs: upstream gradients, shaped like ``outputs`` (default: ones for scalars).
        retain_graph: keep saved tensors for another backward (default: ``create_graph``).
        create_graph: record the backward pass so the result can be differentiated again.
        allow_unused: return ``None`` for inputs the outputs do not depend on, instead of raising.
        materialize_grads: return zeros instead of ``None`` for unused inputs.
    """
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    for k, t in enumerate(ins):
        if not isinstance(t, autograd.Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {k} does not require grad")
    grads = _default_grads(outs, grad_outputs, "grad")
    retain = create_graph if retain_graph is None else retain_graph
    result = run_backward(outs, grads, retain, create_graph, capture=ins)
    for k, g in enumerate(result):
        if g is None:
            if materialize_grads:
                result[k] = _zeros((ins[k].shape, ins[k].dtype), ins[k]._device)
            elif not (allow_unused or materialize_grads):
                raise RuntimeError(
                    f"grad: input {k} (shape {tuple(ins[k].shape)}) was not used in the graph "
                    "of the outputs; pass allow_unused=True to get None for it"
                )
    return tuple(result)
