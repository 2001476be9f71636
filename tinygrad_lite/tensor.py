"""The Tensor: one backend array plus dtype, device and its place in the autograd graph.

Methods are thin: each validates its arguments and applies a primitive from ``ops/`` (or a
composite of them). The arithmetic, reduction and movement methods live in the mixins of
``tensor_methods.py`` and the in-place ones in ``tensor_inplace.py``, so that this file keeps
the object itself: construction, conversion and the autograd entry points.
"""

from __future__ import annotations

import numpy as np

from . import autograd, dtypes
from .device import Device, dlpack_device, get_device
from .dtypes import DType
from .errors import DTypeError
from .tensor_inplace import InplaceMixin
from .tensor_methods import MathMixin, MovementMixin, ReduceMixin

_BY_NP = dtypes._BY_NP


class Tensor(MathMixin, ReduceMixin, MovementMixin, InplaceMixin):
    """An n-dimensional array with reverse-mode autograd.

    Args:
        data: nested lists, a scalar, a NumPy array, or anything with ``__array__``.
        dtype: element type; by default float lists give float32, ints int64, bools bool, and
            NumPy arrays keep their dtype (as ``torch.tensor``).
        device: ``"cpu"`` (default) or ``"cuda"``.
        requires_grad: record operations for backward (floating dtypes only).
    """

    __slots__ = ("_data", "_device", "dtype", "_requires_grad", "_node", "_out_idx", "_grad",
                 "_vc", "_hooks", "__weakref__")
    __array_priority__ = 1000  # make numpy defer to our reflected operators

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        dev = get_device(device)
        dt = None if dtype is None else dtypes.to_dtype(dtype, "tensor")
        array = _copy_array(data, dev, dt)
        if array is None:  # lists, scalars, host arrays: through NumPy
            array = dev.from_numpy(_to_numpy(data, dt))
        self._data = array
        self._device = dev
        self.dtype = dtypes.from_numpy_dtype(array.dtype, "tensor")
        self._node = None
        self._out_idx = 0
        self._grad = None
        self._vc = [0]
        self._hooks = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(data, device: Device, node=None, out_idx: int = 0, vc=None) -> Tensor:
        """Wrap a backend array without copying or validation (the hot path of every op)."""
        t = object.__new__(Tensor)
        if not isinstance(data, device.array_type):
            data = device.xp.asarray(data)
        t._data = data
        t._device = device
        t.dtype = _BY_NP.get(data.dtype) or dtypes.from_numpy_dtype(data.dtype)
        t._node = node
        t._out_idx = out_idx
        t._requires_grad = node is not None
        t._grad = None
        t._vc = [0] if vc is None else vc
        t._hooks = None
        return t

    # ---- properties -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def device(self) -> Device:
        return self._device

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: int | None = None):
        """The shape, or the size of one (possibly negative) dim."""
        if dim is None:
            return self._data.shape
        from .errors import normalize_dim

        if self.ndim == 0:
            raise IndexError(f"size: dimension specified as {dim} but tensor has no dimensions")
        return self._data.shape[normalize_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return autograd.graph_node(self)

    def is_floating_point(self) -> bool:
        return self.dtype.category == 2

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._node is not None and not value:
            raise RuntimeError(
                "requires_grad: you can only change requires_grad flags of leaf tensors; use "
                "detach() to get a tensor without history"
            )
        if value and self.dtype.category != 2:
            raise DTypeError(
                f"requires_grad: only tensors of floating point dtype can require gradients, "
                f"got {self.dtype.name}"
            )
        self._requires_grad = bool(value)

    # ---- autograd ---------------------------------------------------------------------------
    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: assigned grad expected to be a Tensor or None, got "
                                f"{type(value).__name__}")
            if value.shape != self.shape:
                raise ValueError(f"grad: assigning a gradient of shape {tuple(value.shape)} to a "
                                 f"tensor of shape {tuple(self.shape)}")
            if value.dtype is not self.dtype:
                raise DTypeError(f"grad: assigned grad has dtype {value.dtype.name}, expected "
                                 f"{self.dtype.name}")
        self._grad = value

    @property
    def data(self) -> Tensor:
        """The values without history (torch's ``.data``: shares memory, not the version)."""
        return Tensor._make(self._data, self._device)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data
        self.dtype = value.dtype

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` (only into ``inputs`` when given);
        ``gradient`` is required unless ``self`` has one element."""
        if inputs is None:
            autograd.backward(self, gradient, retain_graph, create_graph)
            return
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        grads = autograd.grad(self, inputs, gradient, retain_graph, create_graph,
                              allow_unused=True)
        for t, g in zip(inputs, grads):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g

    def detach(self) -> Tensor:
        """The same data (and version counter) without history."""
        return Tensor._make(self._data, self._device, None, 0, self._vc)

    def detach_(self) -> Tensor:
        self._node = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor during backward."""
        if self._node is None:
            if not self._requires_grad:
                raise RuntimeError("retain_grad: can't retain_grad on a tensor that has "
                                   "requires_grad=False")
            return
        autograd.retain_node_grad(autograd.graph_node(self), self._out_idx, self)

    @property
    def retains_grad(self) -> bool:
        node = self._node
        return bool(node is not None and node.retained and self._out_idx in node.retained)

    def register_hook(self, hook) -> autograd.RemovableHandle:
        """``hook(grad) -> Tensor | None`` runs when this tensor's gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        if self._node is not None:
            return autograd.register_node_hook(autograd.graph_node(self), self._out_idx, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return autograd.RemovableHandle(self._hooks, hook)

    # ---- conversion ---------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU, like torch)."""
        if self._requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use "
                               "tensor.detach().numpy()")
        return self._device.to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        array = self._device.to_numpy(self._data)
        if dtype is not None:
            array = array.astype(dtype, copy=bool(copy))
        return array.copy() if copy and dtype is None else array

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export the data as a DLPack capsule (the array API protocol, as called by
        ``torch.from_dlpack``, ``np.from_dlpack`` and ``cupy.from_dlpack``).

        The keywords are forwarded to the backend array (NumPy or CuPy), only those given: an
        older producer that lacks ``max_version``/``dl_device``/``copy`` then raises TypeError,
        on which consumers retry without them, as the protocol expects.
        """
        given = {"stream": stream, "max_version": max_version, "dl_device": dl_device,
                 "copy": copy}
        return self._data.__dlpack__(**{k: v for k, v in given.items() if v is not None})

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        """The value of a one-element tensor as a Python scalar."""
        if self._data.size != 1:
            raise ValueError(f"item: a Tensor with {self._data.size} elements cannot be converted "
                             "to Scalar")
        return self._device.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        return self._device.to_numpy(self._data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"bool: boolean value of a Tensor with {self._data.size} elements "
                               "is ambiguous")
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.category != 1 or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        from .ops.elementwise import cast, to_device

        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (DType, type)) or _is_torch_dtype(a):
                dtype = a
            elif isinstance(a, (str, Device)) or type(a).__name__ == "device":
                device = a
            else:
                dtype = a
        out = self
        if device is not None and get_device(device) is not self._device:
            out = to_device(out, get_device(device))
        if dtype is not None:
            out = cast(out, dtypes.to_dtype(dtype, "to"))
        return out.clone() if copy and out is self else out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    # ---- python protocol ---------------------------------------------------------------------
    def __contains__(self, element) -> bool:
        if not isinstance(element, (Tensor, bool, int, float)):
            raise RuntimeError(f"contains: tensor.__contains__ only supports Tensor or scalar, "
                               f"got {type(element).__name__}")
        return bool((self == element).any())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        array = self._device.to_numpy(self._data)
        mode = "maxprec"
        if array.dtype.kind == "f" and array.size:
            finite = array[np.isfinite(array)]
            if finite.size and np.any(finite != np.round(finite)):
                mode = "fixed"  # torch prints every element with 4 decimals then
        formatter = None
        if array.dtype.kind == "b":  # width of the longest word present, as torch pads
            width = 5 if array.size and not array.all() else 4
            formatter = {"bool": lambda v: ("True" if v else "False").rjust(width)}
        body = np.array2string(array, separator=", ", precision=4, floatmode=mode,
                               prefix="tensor(", formatter=formatter)
        extras = []
        if self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_) or self._data.size == 0:
            extras.append(f"dtype={self.dtype!r}")
        if self._device.type != "cpu":
            extras.append(f"device='{self._device}'")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self):
        raise TypeError("Tensor objects are not pickled; use tl.save (safetensors) instead")

    def __deepcopy__(self, memo) -> Tensor:
        """``copy.deepcopy``: a leaf with copied data (and grad), keeping ``requires_grad``;
        like torch, only leaves can be deep-copied. Parameters stay Parameters."""
        if id(self) in memo:
            return memo[id(self)]
        if self._node is not None:
            raise RuntimeError("deepcopy: only tensors created explicitly by the user (graph "
                               "leaves) support the deepcopy protocol; use detach().clone()")
        new = object.__new__(type(self))
        new._data = self._data.copy()
        new._device, new.dtype = self._device, self.dtype
        new._node, new._out_idx, new._vc, new._hooks = None, 0, [0], None
        new._requires_grad = self._requires_grad
        new._grad = None if self._grad is None else self._grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new


def _is_torch_dtype(obj) -> bool:
    return type(obj).__module__ == "torch" and type(obj).__name__ == "dtype"


def _to_numpy(data, dtype: DType | None) -> np.ndarray:
    """NumPy array for the constructor, applying torch's default-dtype inference."""
    if isinstance(data, np.ndarray):
        array = data.copy()
    elif hasattr(data, "__dlpack__") and not isinstance(data, (list, tuple)):
        array = _from_foreign(data)
    else:
        if isinstance(data, (list, tuple)):
            data = _unwrap_nested(data)
        try:
            array = np.asarray(data)
        except ValueError:
            raise ValueError("tensor: nested sequences must be rectangular (all lists at one "
                             "depth the same length)") from None
        if array.dtype == np.float64 and not _holds_float64(data):
            array = array.astype(np.float32)  # Python floats: the default dtype
        elif array.dtype.kind == "U" or array.dtype == object:
            raise TypeError(f"tensor: can't build a tensor from {type(data).__name__} "
                            f"(got elements of dtype {array.dtype})")
    if dtype is not None:
        array = array.astype(dtype.np, copy=False)
    return array


def _from_foreign(data) -> np.ndarray:
    """A NumPy copy of another library's tensor (torch, CuPy): DLPack for host memory (no
    deprecated ``__array__`` call), ``__array__`` otherwise."""
    detach = getattr(data, "detach", None)  # torch refuses to export tensors that need grad
    src = detach() if callable(detach) else data
    try:
        return np.from_dlpack(src).copy()
    except (BufferError, RuntimeError, TypeError, ValueError):
        return np.array(src)


_DLPACK_CUDA = 2  # DLPack device type of CUDA GPU memory


def _copy_array(data, device: Device, dtype: DType | None):
    """``data``'s values copied onto ``device`` (as ``dtype``) when ``data`` is a tensor of ours
    or lives in GPU memory (a CuPy array, a torch CUDA tensor); None for other (host) data.

    CuPy and torch refuse the implicit host conversion that ``np.array`` asks for, so foreign GPU
    arrays are imported through DLPack (a zero-copy view on their GPU) and copied from there:
    on the same device without leaving it, across devices through host memory.
    """
    if isinstance(data, Tensor):
        src_device, src = data._device, data._data
    else:
        dlpack_dev = getattr(data, "__dlpack_device__", None)
        if not callable(dlpack_dev) or int(dlpack_dev()[0]) != _DLPACK_CUDA:
            return None
        detach = getattr(data, "detach", None)  # torch refuses to export tensors that need grad
        data = detach() if callable(detach) else data
        src_device = dlpack_device(data)  # raises, saying what to install, without CuPy
        src = src_device.xp.from_dlpack(data)
    np_dtype = src.dtype if dtype is None else dtype.np
    if src_device is device:
        return device.copy_array(src, np_dtype)
    return device.from_numpy(np.asarray(src_device.to_numpy(src), dtype=np_dtype, order="C"))


def _holds_float64(data) -> bool:
    """Whether float64 came from a float64 tensor/array/NumPy scalar (kept, as torch keeps it)
    rather than from Python floats (which give the default float32)."""
    if isinstance(data, (list, tuple)):
        return any(_holds_float64(d) for d in data)
    return getattr(data, "dtype", None) is not None and str(data.dtype) == "float64"


def _unwrap_nested(data):
    """Turn Tensors/0-d arrays inside nested lists into plain values."""
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(d) for d in data]
    if isinstance(data, Tensor):
        return data._device.to_numpy(data._data)
    return data


autograd.Tensor = Tensor


def _bind() -> None:
    from . import tensor_methods

    tensor_methods.bind_ops()


_bind()
