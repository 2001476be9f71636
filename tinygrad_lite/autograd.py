"""Reverse-mode automatic differentiation: graph nodes, the backward engine and grad mode.

Every op's output records the node (a :class:`Function` instance, which doubles as the ``ctx``)
that made it. A node holds strong references to its inputs and none to its outputs, so the graph
has no cycles and is freed as soon as the last tensor that needs it goes away.

``backward`` walks the graph iteratively: nodes are numbered in creation order, and a node is
always created after every node it consumes from, so popping the highest number first from a heap
visits each node only after all of its consumers have delivered their gradients.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import weakref

_seq = itertools.count()
Tensor = None  # set by tensor.py (the two modules refer to each other)


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops record the graph (thread-local, like torch)."""
    return _mode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    enabled: bool

    def __init__(self):
        self._prev: list[bool] = []

    def __enter__(self):
        self._prev.append(_mode.enabled)
        _mode.enabled = self.enabled
        return self

    def __exit__(self, *exc) -> None:
        _mode.enabled = self._prev.pop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_SetGradMode):
    """Disable graph recording: ``with tl.no_grad(): ...`` or ``@tl.no_grad()``."""

    enabled = False


class enable_grad(_SetGradMode):
    """Re-enable graph recording inside a ``no_grad`` region."""

    enabled = True


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook out again."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class _SavedOutput:
    """Marks an output in ``ctx.saved``: storing the tensor itself would make a cycle."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


class Function:
    """A differentiable operation; each call creates one instance, the node and its ``ctx``.

    Custom ops follow torch::

        class Cube(tl.autograd.Function):
            @staticmethod
            def forward(ctx, x):          # Tensors in, Tensor(s) out, run under no_grad
                ctx.save_for_backward(x)
                return x * x * x

            @staticmethod
            def backward(ctx, grad):      # one gradient per forward input (None if not needed)
                (x,) = ctx.saved_tensors
                return 3 * x * x * grad

        y = Cube.apply(x)

    A backward written with Tensor ops is itself differentiable (``create_graph=True``).
    """

    __slots__ = ("inputs", "edges", "needs_input_grad", "seq", "device", "saved", "versions",
                 "out_data", "out_meta", "hooks", "retained", "freed", "__weakref__")
    n_outputs = 1
    # Primitives declare which inputs their backward reads, and whether it reads the output;
    # only those are version-checked (as torch checks only saved tensors).
    saves_inputs: tuple[int, ...] = ()
    saves_output = False
    # View ops return arrays that share memory with input 0: the output shares its version
    # counter, and backward through the view checks that the base was not modified since.
    is_view = False

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    # ---- ctx API -------------------------------------------------------------------------
    def save_for_backward(self, *tensors) -> None:
        """Keep tensors for backward; modifying one in place later makes backward raise."""
        self.saved = list(tensors)
        self.versions = [(t._vc, t._vc[0]) for t in tensors if t is not None]

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs (returned by forward) that get no gradient, e.g. indices."""
        self.out_meta = tuple(id(t) for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        self._check_saved()
        saved = self.saved or ()
        return tuple(self._output(s.index) if isinstance(s, _SavedOutput) else s for s in saved)

    @property
    def output(self):
        """The (single) output, rebuilt from its data (see :class:`_SavedOutput`)."""
        self._check_saved()
        return self._output(0)

    def _output(self, index: int):
        data = self.out_data[index] if self.n_outputs != 1 else self.out_data
        return Tensor._make(data, self.device, self, index)

    def _check_saved(self) -> None:
        if self.freed:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time "
                "(or to use saved tensors after they were freed). Saved tensors are freed after "
                "backward; pass retain_graph=True to backward() or autograd.grad() the first time."
            )
        for vc, version in self.versions or ():
            if vc[0] != version:
                raise RuntimeError(
                    f"{type(self).__name__}: one of the tensors needed for gradient computation "
                    f"has been modified by an in-place operation (saved at version {version}, "
                    f"now at version {vc[0]})"
                )

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"

    def _init_node(self, inputs: tuple, needs: tuple) -> None:
        self.inputs = inputs
        # Where each input's gradient goes, fixed now: an in-place op may later give the same
        # Tensor object a new history, which must not reroute gradients of this node.
        self.edges = tuple(getattr(t, "_node", None) and (t._node, t._out_idx) for t in inputs)
        self.needs_input_grad = needs
        self.seq = next(_seq)
        self.hooks = self.retained = None
        self.freed = False

    def _release(self) -> None:
        """Drop saved data after a backward without retain_graph."""
        if self.saves_inputs or self.saves_output or self.saved:
            self.freed = True
        self.saved = self.out_data = None

    # ---- the torch-style public path: Tensors in, Tensors out ---------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` under no_grad and, when any input requires grad, record the node."""
        node = cls.__new__(cls)
        node.saved = node.versions = node.out_data = node.out_meta = None
        tensors = [a for a in args if isinstance(a, Tensor)]
        node.device = tensors[0]._device if tensors else None
        with no_grad():
            result = cls.forward(node, *args, **kwargs)
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        if not (_mode.enabled and any(needs)):
            return result
        node._init_node(args, needs)
        node.n_outputs = len(outs)
        frozen = node.out_meta or ()  # ids passed to mark_non_differentiable
        node.out_meta = tuple((o.shape, o.dtype) for o in outs)
        # Fresh tensors share data and version counter with what forward returned; integer
        # outputs (e.g. indices) and marked ones are not differentiable.
        wrapped = tuple(Tensor._make(o._data, o._device, None if o.dtype.category != 2 or
                                     id(o) in frozen else node, i, o._vc)
                        for i, o in enumerate(outs))
        if node.saved:
            node.out_data = tuple(o._data for o in outs) if not single else outs[0]._data
            node.saved = [_saved_ref(s, outs) for s in node.saved]
        return wrapped[0] if single else wrapped


def _saved_ref(saved, outs):
    for i, o in enumerate(outs):
        if saved is o:
            return _SavedOutput(i)
    return saved


class Primitive(Function):
    """A built-in op: ``forward(ctx, *arrays, **kw) -> array`` works on backend arrays.

    ``backward(ctx, grad)`` uses Tensor ops only (``ctx.inputs``, ``ctx.output``), so it can be
    differentiated again. Subclasses list the attributes they keep in ``__slots__``.
    """

    __slots__ = ()

    @classmethod
    def apply(cls, *inputs, **kwargs):
        node = cls.__new__(cls)
        device = inputs[0]._device
        node.device = device
        if len(inputs) == 1:
            out = cls.forward(node, inputs[0]._data, **kwargs)
        else:
            for t in inputs:
                if t._device is not device:
                    raise RuntimeError(
                        f"{cls.__name__.lower()}: expected all tensors on the same device, got "
                        f"{device} and {t._device}")
            out = cls.forward(node, *[t._data for t in inputs], **kwargs)
        if _mode.enabled:
            needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                node.inputs = inputs
                node.edges = tuple([None if t._node is None else (t._node, t._out_idx)
                                    for t in inputs])
                node.needs_input_grad = needs
                node.seq = next(_seq)
                node.hooks = node.retained = node.saved = None
                node.freed = False
                node.versions = [(inputs[i]._vc, inputs[i]._vc[0]) for i in cls.saves_inputs]
                if cls.is_view:
                    vc = inputs[0]._vc
                    node.versions.append((vc, vc[0]))
                    return Tensor._make(out, device, node, 0, vc)
                result = Tensor._make(out, device, node, 0)
                if cls.saves_output:
                    node.out_data = out
                    node.versions.append((result._vc, 0))
                return result
        return Tensor._make(out, device, None, 0, inputs[0]._vc if cls.is_view else None)


# ---- the engine --------------------------------------------------------------------------------
def _check_grad(node, i, inp, g):
    if g.shape != inp.shape and _expands_to(inp.shape, g.shape):
        from .ops._base import unbroadcast  # torch sums a broadcast gradient back, too

        g = unbroadcast(g, inp.shape)
    if g.shape != inp.shape:
        raise RuntimeError(
            f"{node.name()}: backward returned a gradient of shape {tuple(g.shape)} for input {i}, "
            f"expected {tuple(inp.shape)}"
        )
    return g if g.dtype is inp.dtype else g.to(inp.dtype)


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
            cap_nodes.setdefault(t._node, []).append((t._out_idx, k))
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

    prev_mode = _mode.enabled
    _mode.enabled = create_graph
    try:
        for t, g in zip(roots, root_grads):
            deliver(t, t._node and (t._node, t._out_idx), g)
        while heap:
            node = heapq.heappop(heap)[1]
            grads = pending.pop(node)
            if node.hooks or node.retained:
                _run_node_hooks(node, grads, create_graph)
            if node in cap_nodes:
                for i, k in cap_nodes[node]:
                    captured[k] = _owned(grads[i], create_graph)
            if node.freed or node.versions:
                node._check_saved()
            if node.n_outputs != 1 and any(g is None for g in grads):  # unused outputs
                grads = [g if g is not None else _zeros(node.out_meta[i], node.device)
                         for i, g in enumerate(grads)]
            in_grads = type(node).backward(node, *grads)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(node.inputs):
                raise RuntimeError(
                    f"{node.name()}: backward returned an incorrect number of gradients "
                    f"(expected {len(node.inputs)}, one per forward input, got {len(in_grads)})"
                )
            for i, (inp, need, g) in enumerate(zip(node.inputs, node.needs_input_grad, in_grads)):
                if need and g is not None:
                    deliver(inp, node.edges[i], _check_grad(node, i, inp, g))
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
        _mode.enabled = prev_mode
    return captured


def _owned(g, create_graph: bool):
    """A gradient the caller may keep and modify: backward results can alias each other (add
    passes one gradient to both inputs) or be read-only broadcast views (sum's backward)."""
    if create_graph:
        return g.clone()  # a differentiable copy
    return Tensor._make(g._device.xp.array(g._data, copy=True), g._device)


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
    return Tensor._make(device.xp.zeros(shape, dtype=dtype.np), device, None, 0)


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
            g = Tensor._make(t._device.xp.ones(t.shape, dtype=t.dtype.np), t._device, None, 0)
        elif not isinstance(g, Tensor):
            g = Tensor(g, dtype=t.dtype, device=t._device)
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
        if not isinstance(t, Tensor) or not t.requires_grad:
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


def register_node_hook(node, index: int, fn) -> RemovableHandle:
    """Hook on the gradient of output ``index`` of ``node`` (non-leaf ``register_hook``)."""
    if node.hooks is None:
        node.hooks = {}
    hooks = node.hooks.setdefault(index, [])
    hooks.append(fn)
    return RemovableHandle(hooks, fn)


def retain_node_grad(node, index: int, tensor) -> None:
    """Make a non-leaf tensor keep its ``.grad`` (``retain_grad``)."""
    if node.retained is None:
        node.retained = {}
    node.retained[index] = weakref.ref(tensor)
