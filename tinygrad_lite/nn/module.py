"""``Module``: the container that holds a model's state (torch's nn.Module).

A Module keeps three ordered registries — parameters, buffers and child modules — filled by
plain attribute assignment (``self.fc = Linear(...)``). Everything else (``parameters()``,
``state_dict()``, ``to()``, ``train()``) walks those registries.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

from .. import autograd, dtypes
from ..device import get_device
from ..errors import ShapeError
from ..tensor import Tensor
from .parameter import Parameter


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the missing and the unexpected keys (torch's repr)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Module:
    """Base class of every layer and model: subclass it, assign layers in ``__init__`` and
    implement ``forward``; call the module (not ``forward``) to run it."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_forward_pre_hooks", [])

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: Module subclasses must implement "
                                  f"forward()")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    # ---- registration ------------------------------------------------------------------------
    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__})")

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name, self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init("module")
            self._forget(name, self._modules)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(tl.nn.Parameter or None expected)")
            self._parameters[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(Tensor or None expected)")
            self._buffers[name] = value
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (tl.nn.Module or None expected)")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: OrderedDict) -> None:
        """Drop ``name`` from everywhere but the ``keep`` registry, which is about to get the new
        value: replacing an entry there keeps its position (``seq[0] = layer`` stays first)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def _check_name(self, name: str, what: str, registry: OrderedDict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name can't be empty or contain '.', got {name!r}")
        # as torch: re-registering in the same registry replaces, anything else is a clash
        # (a plain attribute, a method, or a name already used by another registry)
        if name not in registry and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder) under ``name``."""
        self._check_init("parameters")
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign '{type(param).__name__}' as "
                            f"parameter '{name}' (tl.nn.Parameter or None expected)")
        self._forget(name, self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add non-trainable state (e.g. running statistics); persistent ones are saved."""
        self._check_init("buffers")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot assign '{type(tensor).__name__}' as "
                            f"buffer '{name}' (Tensor or None expected)")
        self._forget(name, self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name``."""
        self._check_init("module")
        self._check_name(name, "module", self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        self._forget(name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def register_forward_hook(self, hook: Callable) -> autograd.RemovableHandle:
        """``hook(module, args, output)`` runs after forward; a non-None result replaces it."""
        self._forward_hooks.append(hook)
        return autograd.RemovableHandle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook: Callable) -> autograd.RemovableHandle:
        """``hook(module, args)`` runs before forward; a non-None result replaces the args."""
        self._forward_pre_hooks.append(hook)
        return autograd.RemovableHandle(self._forward_pre_hooks, hook)

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` ("" is self)."""
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules or mod._modules[part] is None:
                raise AttributeError(f"get_submodule: {type(mod).__name__} has no submodule "
                                     f"'{part}' (path '{target}')")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``."""
        prefix, _, name = target.rpartition(".")
        mod = self.get_submodule(prefix)
        if name not in mod._parameters:
            raise AttributeError(f"get_parameter: {type(mod).__name__} has no parameter "
                                 f"'{name}'")
        return mod._parameters[name]

    # ---- traversal ---------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """Pre-order (self first) walk over all modules with dotted names."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two modules appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics) recursively."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: training mode is expected to be boolean, got {mode!r}")
        object.__setattr__(self, "training", mode)
        # through each child's train(), so subclasses that override it (e.g. to keep a frozen
        # batch norm in eval mode) are honoured, as in torch
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None, or to zeros in place)."""
        for p in self.parameters():
            if p._grad is None:
                continue
            if set_to_none:
                p._grad = None
            else:
                p._grad = p._grad.detach()
                p._grad._data[...] = 0
                p._grad._vc[0] += 1

    # ---- state -------------------------------------------------------------------------------
    def state_dict(self, destination: OrderedDict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (detached unless ``keep_vars``)."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        Raises:
            RuntimeError: with ``strict``, when keys are missing or unexpected; always, when a
                shape differs (torch's "size mismatch for ..." message).
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        # keys that checkpoints of an older layout may lack (torch fills in the module's own
        # value, e.g. BatchNorm's num_batches_tracked, unless the metadata says version >= 2)
        metadata = getattr(state_dict, "_metadata", None) or {}
        optional = {f"{prefix}.{key}" if prefix else key
                    for prefix, mod in self.named_modules(remove_duplicate=False)
                    for key in mod._legacy_state_keys(metadata.get(prefix, {}).get("version"))}
        missing = [k for k in own if k not in state_dict and k not in optional]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        values = {}  # checkpoint entries as Tensors, converted once
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in missing) + ".")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = values[key] = _checkpoint_value(state_dict[key], target)
            if tuple(value.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(value.shape)} from checkpoint, the shape in current model "
                              f"is {tuple(target.shape)}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, value in values.items():
            _copy_into(own[key], value)
        return _IncompatibleKeys(missing, unexpected)

    def _legacy_state_keys(self, version: int | None) -> tuple[str, ...]:
        """Own state keys that a checkpoint of layout ``version`` (None: unknown) may lack;
        loading keeps their current values and does not report them missing."""
        return ()

    # ---- conversion --------------------------------------------------------------------------
    def _apply(self, convert: Callable[[Tensor], Tensor]) -> Module:
        """Replace every parameter's and buffer's storage by ``convert(tensor)`` in place, so
        Parameter objects (and optimisers holding them) stay valid."""
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None:
                    continue
                new = convert(t.detach())
                if new._data is not t._data:
                    _rebind(t, new)
                    if t._grad is not None:
                        t._grad = convert(t._grad)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move/cast parameters and buffers: ``to(device)``, ``to(dtype)``, both, or
        ``to(tensor)`` (its device and dtype). Only floating tensors change dtype (integer
        buffers like counters keep theirs); ``non_blocking`` is accepted and ignored (copies
        are synchronous)."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, dtypes.DType) or _is_dtype_like(a):
                dtype = a
            else:
                device = a
        dev = None if device is None else get_device(device)
        dt = None if dtype is None else dtypes.to_dtype(dtype, "Module.to")
        if dt is not None and dt.category != 2:
            raise TypeError(f"Module.to: only floating point dtypes are accepted, got {dt.name}")

        def convert(t: Tensor) -> Tensor:
            if dt is not None and t.dtype.category == 2:
                t = t.to(dt)
            return t.to(dev) if dev is not None else t

        return self._apply(convert)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to("cuda" if device is None else device)

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on self, e.g. for init."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's line in ``repr``."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join((extra.split("\n") if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))


def _is_dtype_like(obj) -> bool:
    if isinstance(obj, str):
        return obj in dtypes._BY_NAME
    return type(obj).__module__ == "torch" and type(obj).__name__ == "dtype"


def _rebind(t: Tensor, new: Tensor) -> None:
    t._data, t._device, t.dtype = new._data, new._device, new.dtype
    t._vc[0] += 1


def _checkpoint_value(value, target: Tensor) -> Tensor:
    """A checkpoint entry as a Tensor; a 1-D value for a 0-d target gives its first element
    (torch's rule for old checkpoints that stored scalars as shape (1,)). Arrays and foreign
    tensors (NumPy, torch, CuPy) are copied straight onto the target's device."""
    value = value if isinstance(value, Tensor) else Tensor(value, device=target.device)
    if target.ndim == 0 and value.ndim == 1:
        value = value[0]
    return value


def _copy_into(target: Tensor, value: Tensor) -> None:
    """In-place copy of a checkpoint value into a parameter/buffer (cast + device transfer):
    like torch's ``param.copy_(src)``, the parameter keeps its device and dtype."""
    if tuple(value.shape) != tuple(target.shape):  # pragma: no cover - checked by the caller
        raise ShapeError(f"load_state_dict: shape {tuple(value.shape)} != {tuple(target.shape)}")
    src = value.detach().to(target.device).to(target.dtype)
    target._data[...] = src._data
    target._vc[0] += 1
