"""Reverse-mode automatic differentiation: graph nodes, the backward engine and grad mode.

Every op's output records the node (a :class:`Function` instance, which doubles as the ``ctx``)
that made it. A node holds strong references to its inputs and none to its outputs, so the graph
has no cycles and is freed as soon as the last tensor that needs it goes away.

The backward pass itself (``backward``, ``grad``) is in ``engine.py`` and re-exported here.
"""

from __future__ import annotations

import functools
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
    """Context manager and decorator (``@no_grad()`` or bare ``@no_grad``) that sets grad mode
    and restores it on exit."""

    enabled: bool

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        self._prev = []
        return self if fn is None else self(fn)

    def __init__(self, fn=None):
        pass

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


class set_grad_enabled(_SetGradMode):
    """``set_grad_enabled(mode)``: takes effect immediately, and as a context manager restores
    the previous mode on exit (torch's semantics)."""

    def __new__(cls, mode: bool):
        self = super().__new__(cls)
        self.enabled = bool(mode)
        self._prev.append(_mode.enabled)
        _mode.enabled = self.enabled
        return self

    def __init__(self, mode: bool):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _mode.enabled = self._prev.pop()


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


_KEEP_SIZE = 1024  # smaller inputs stay: their memory is less than the bookkeeping would cost


class _Meta:
    """What a released node remembers of an input: enough for a backward that reads no data."""

    __slots__ = ("shape", "dtype", "_device")

    _node = None
    _requires_grad = False

    def __init__(self, t):
        self.shape, self.dtype, self._device = t.shape, t.dtype, t._device

    @property
    def device(self):
        return self._device

    @property
    def ndim(self) -> int:
        return len(self.shape)


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
                 "out_data", "out_meta", "frozen", "hooks", "retained", "freed", "view_version",
                 "__weakref__")
    n_outputs = 1
    # Primitives declare which inputs their backward reads, and whether it reads the output;
    # only those are version-checked (as torch checks only saved tensors).
    saves_inputs: tuple[int, ...] = ()
    saves_output = False
    # View ops return arrays that share memory with input 0: the output shares its version
    # counter, and a view whose base was modified in place later re-derives its history from
    # the base when next used (see graph_node).
    is_view = False
    swaps_inputs = False  # see _release; built-in ops that are not views do it

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
        self.frozen = tuple(id(t) for t in tensors)

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

    def view_spec(self):
        """For view ops: ``(op class, kwargs)`` that re-creates this view of another tensor
        (used to rewrite a base's history after an in-place op on the view); else None."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"

    def _init_node(self, inputs: tuple, needs: tuple) -> None:
        self.inputs = inputs
        # Where each input's gradient goes, fixed now: an in-place op may later give the same
        # Tensor object a new history, which must not reroute gradients of this node.
        self.edges = tuple(None if getattr(t, "_node", None) is None else
                           (graph_node(t), t._out_idx) for t in inputs)
        self.needs_input_grad = needs
        self.seq = next(_seq)
        self.hooks = self.retained = None
        self.freed = False

    def _release(self) -> None:
        """Drop saved data after a backward without retain_graph.

        Built-in ops also swap non-leaf inputs for their shape/dtype: a kept ``loss`` then no
        longer keeps every activation alive (torch frees saved tensors the same way). Leaves
        stay (gradients are delivered to them) and so do view bases (a view refers to them).
        """
        if self.saves_inputs or self.saves_output or self.saved:
            self.freed = True
        self.saved = self.out_data = None
        if self.swaps_inputs:
            self.inputs = tuple([_Meta(t) if type(t) is not _Meta and t._data.size > _KEEP_SIZE
                                 and (t._node is not None or not t._requires_grad) else t
                                 for t in self.inputs])


    # ---- the torch-style public path: Tensors in, Tensors out ---------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` under no_grad and, when any input requires grad, record the node."""
        node = cls.__new__(cls)
        node.saved = node.versions = node.out_data = node.out_meta = node.frozen = None
        tensors = [a for a in args if isinstance(a, Tensor)]
        node.device = tensors[0]._device if tensors else None
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        node.needs_input_grad = needs  # readable in forward, as in torch
        with no_grad():
            result = cls.forward(node, *args, **kwargs)
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        if not (_mode.enabled and any(needs)):
            return result
        node._init_node(args, needs)
        node.n_outputs = len(outs)
        frozen = node.frozen or ()  # ids passed to mark_non_differentiable
        node.out_meta = tuple(None if o is None else (o.shape, o.dtype) for o in outs)
        # Fresh tensors share data and version counter with what forward returned; integer
        # outputs (e.g. indices) and marked ones are not differentiable; None stays None.
        wrapped = tuple(None if o is None else
                        Tensor._make(o._data, o._device, None if o.dtype.category != 2 or
                                     id(o) in frozen else node, i, o._vc)
                        for i, o in enumerate(outs))
        if node.saved:
            node.out_data = tuple(None if o is None else o._data for o in outs) \
                if len(outs) != 1 else outs[0]._data
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
    swaps_inputs = True

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
        device = node.device  # a transfer (ToDevice) moves its node to the output's device
        if _mode.enabled:
            needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                node.inputs = inputs
                node.edges = tuple([None if t._node is None else
                                    (t._node if not t._node.is_view else graph_node(t),
                                     t._out_idx) for t in inputs])
                node.needs_input_grad = needs
                node.seq = next(_seq)
                node.hooks = node.retained = node.saved = None
                node.freed = False
                node.versions = [(inputs[i]._vc, inputs[i]._vc[0]) for i in cls.saves_inputs]
                if cls.is_view:
                    vc = inputs[0]._vc
                    node.view_version = vc[0]
                    return Tensor._make(out, device, node, 0, vc)
                result = Tensor._make(out, device, node, 0)
                if cls.saves_output:
                    node.out_data = out
                    node.versions.append((result._vc, 0))
                return result
        return Tensor._make(out, device, None, 0, inputs[0]._vc if cls.is_view else None)


def graph_node(t):
    """``t``'s node, first re-deriving a stale view's history from its base.

    A view shares memory (and version counter) with its base. If the base, or another view of
    it, was modified in place after this view was taken, the view's values changed, so its
    history is rebuilt as the same view of the base's current history (torch does the same).
    """
    node = t._node
    if node is None or not node.is_view or t._vc[0] == node.view_version:
        return node
    base = node.inputs[0]
    graph_node(base)  # the base may be a stale view itself
    cls, kwargs = node.view_spec()
    prev = _mode.enabled
    _mode.enabled = True
    try:
        fresh = cls.apply(base, **kwargs)
    finally:
        _mode.enabled = prev
    t._node, t._out_idx = fresh._node, 0
    return t._node


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


from .engine import backward, grad, run_backward  # noqa: E402,F401  (tl.autograd.grad, ...)
