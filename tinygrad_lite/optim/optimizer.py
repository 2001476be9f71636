"""The optimiser base class: parameter groups, per-parameter state, zero_grad, state_dict.

Subclasses build their ``defaults`` dict, check it in :meth:`Optimizer._check_hyperparameters`
and implement :meth:`Optimizer.step`. The update arithmetic itself lives behind the device seam
(``param.device.adam_step(...)`` and friends), working in place on backend arrays: an optimiser
step never builds a graph and never copies a parameter.
"""

from __future__ import annotations

import copy
import functools
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import enable_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "ParamsT"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


def _track_step(step: Callable) -> Callable:
    """Wrap a subclass's ``step`` so lr schedulers can tell whether it ran (torch warns when
    ``scheduler.step()`` comes before the first ``optimizer.step()``)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)

    wrapper._tracks_calls = True
    return wrapper


class Optimizer:
    """Base class of all optimisers (torch.optim.Optimizer's contract).

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter
            groups: ``{"params": [...], "lr": ...}``; missing options come from ``defaults``).
        defaults: the default value of every option.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of Tensors) and options.
        state: per-parameter dict (``state[p]["exp_avg"]`` ...), filled lazily by ``step``.
        defaults: the constructor's options.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_tracks_calls", False):
            cls.step = _track_step(step)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = defaults
        self._check_hyperparameters(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts, but got "
                            "a single Tensor (wrap it in a list)")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters need to be given in an ordered collection; "
                            "the order of tensors in a set changes between runs (use a list)")
        if isinstance(params, dict):
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts, but got "
                            "a dict (pass a list of parameter-group dicts)")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts, got "
                            f"{type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- hooks for subclasses ----------------------------------------------------------------
    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ValueError for invalid options (called for the defaults and every group)."""

    def step(self, closure: Callable[[], Any] | None = None):
        """Perform one optimisation step; ``closure`` re-evaluates the model, returns the loss."""
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    @staticmethod
    def _closure_loss(closure: Callable[[], Any] | None):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- parameter groups --------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own options) to ``param_groups``.

        Raises:
            TypeError: not a dict, params in a set, or a param that isn't a floating Tensor.
            ValueError: a non-leaf tensor, a tensor already optimised, or invalid options.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, but got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: param_group has no 'params' entry "
                             f"(keys: {sorted(param_group)})")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters need to be given in an ordered collection; "
                            "the order of tensors in a set changes between runs (use a list)")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError(f"{name}: all parameters should be given with names or all "
                             "without; some names are missing")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but parameter {i} is a "
                                f"{type(p).__name__}")
            if not p.is_floating_point():
                raise TypeError(f"{name}: can only optimize floating-point Tensors, but "
                                f"parameter {i} has dtype {p.dtype.name}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (parameter {i} was "
                                 "computed by an op; use .detach().requires_grad_())")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter group contains the same tensor more than "
                             "once")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        if self.param_groups and bool(names) != ("param_names" in self.param_groups[0]):
            raise ValueError(f"{name}: all parameter groups should be given with names or all "
                             "without")
        group = dict(param_group)
        group["params"] = params
        if names:
            group["param_names"] = names
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    # ---- gradients ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: drop them (default) or zero them in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g._node is not None:
                    g.detach_()
                else:
                    g._requires_grad = False
                g.zero_()

    # ---- serialisation -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimiser state in torch's layout.

        Returns:
            ``{"state": {index: {name: value}}, "param_groups": [{..options.., "params":
            [index, ...]}]}``; parameters are numbered in group order, the state tensors are
            the optimiser's own (not copies), as in torch.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(k)] if isinstance(k, Tensor) else k: v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (ours or torch's: tensors are converted).

        State tensors are copied and cast to their parameter's dtype and device (``step``
        stays as saved); the parameter lists of the groups must have the same lengths.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups', got {type(state_dict).__name__}")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has "
                             f"{len(saved_groups)} parameter groups, the optimizer has "
                             f"{len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(s['params'])} parameters in the loaded state dict but "
                                 f"{len(g['params'])} in the optimizer")
        id_map = {saved: p for g, s in zip(self.param_groups, saved_groups)
                  for saved, p in zip(s["params"], g["params"])}
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(key)
            if param is None:
                state[key] = value
            else:
                state[param] = {k: _cast_state(param, k, v) for k, v in value.items()}
        for g, s in zip(self.param_groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            for key, default in self.defaults.items():
                s.setdefault(key, default)
        self.state = state
        self.param_groups = saved_groups

    def __repr__(self) -> str:
        text = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):  # torch's layout, blank line and all
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
        return text + ")"

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _cast_state(param: Tensor, key: str, value):
    """A copy of one saved state value as the optimiser keeps it (see load_state_dict)."""
    if isinstance(value, dict):
        return {k: _cast_state(param, k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, key, v) for v in value)
    if value is None or isinstance(value, (numbers.Number, str)):
        return value
    if key == "step":  # kept on the CPU, where the optimisers read it every step (no GPU sync)
        return Tensor(value)  # a CPU copy, dtype kept, from any device
    if not isinstance(value, Tensor):  # NumPy arrays, torch tensors (CPU or CUDA), CuPy arrays
        value = Tensor(value, device=param.device)
    dtype = param.dtype if value.is_floating_point() else value.dtype
    out = value.detach().to(param.device).to(dtype)
    if out._data is value._data:
        out = out.clone()
    return Tensor._make(out._data, out._device)


def _lerp_(start, end, weight) -> None:
    """``start += weight * (end - start)`` in place, with torch's two-sided formula (``weight``
    already of the arrays' dtype)."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (weight.dtype.type(1) - weight)


def _as_param_dtype(array, scalars):
    """The Python scalars as NumPy scalars of the array's dtype (torch casts them likewise)."""
    dt = array.dtype.type
    return [dt(s) for s in scalars]
