"""``Module``: the base class of every layer and model, as ``torch.nn.Module``.

A module owns three ordered registries, filled by plain attribute assignment::

    self.weight = Parameter(...)      # -> _parameters  (learnable, in parameters())
    self.fc = Linear(3, 4)            # -> _modules     (children, searched recursively)
    self.register_buffer("mean", t)   # -> _buffers     (state that is not learned)

Everything else -- ``parameters()``, ``state_dict()``, ``to()``, ``train()``, the nested
``repr`` -- walks these registries in registration order, so names and order are exactly
PyTorch's (``"0.weight"``, ``"encoder.fc.bias"``, ...).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from minidl import backend
from minidl.autograd.grad_mode import is_grad_enabled, no_grad
from minidl.autograd.hooks import Hook, RemovableHandle, add_hook
from minidl.autograd.tensor import Tensor
from minidl.nn.parameter import Parameter

Array = backend.Array


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys the module expected but did not get, and the
    keys it got but does not know (both empty after a successful strict load)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first by ``spaces`` (blank lines stay empty), as PyTorch's repr."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line if line.strip() else "" for line in rest])


def _prefixed(prefix: str, name: str) -> str:
    """``"encoder" + "fc"`` -> ``"encoder.fc"``; an empty prefix adds no dot."""
    return f"{prefix}.{name}" if prefix else name


class Module:
    """Base class of layers and models: subclass it, assign parameters and submodules in
    ``__init__`` (after ``super().__init__()``) and define ``forward``; call the module itself
    (``model(x)``) so that hooks run."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

    # ------------------------------------------------------------------------------ forward
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" '
                                  "function")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the forward pre-hooks, ``forward`` and the forward hooks, as PyTorch does.

        A pre-hook ``hook(module, args)`` may return new positional args (a tuple, or a single
        value that is wrapped in one); a hook ``hook(module, args, output)`` may return a new output.
        With backward hooks registered, the inputs and outputs pass through identity nodes that
        report their gradients (:class:`_BackwardHooks`).
        """
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward_hooks = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            backward_hooks = _BackwardHooks(self)
            args = backward_hooks.watch_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output if backward_hooks is None else backward_hooks.watch_outputs(output)

    def register_forward_pre_hook(self, hook: Hook, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward; ``prepend`` runs it before earlier hooks."""
        return add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook: Hook, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every forward; ``prepend`` runs it first."""
        return add_hook(self._forward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Hook, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients of the outputs are known; it may
        return a replacement tuple for ``grad_output``."""
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Hook, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of the positional inputs
        are known (``None`` for an input that is not a tensor requiring grad); it may return a
        replacement tuple for ``grad_input``."""
        return add_hook(self._backward_hooks, hook, prepend)

    # -------------------------------------------------------------------------- registration
    def _check_new_name(self, kind: str, name: Any, registry: Mapping[str, Any]) -> None:
        """PyTorch's checks on a new parameter/buffer/module name."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a ``Parameter``, or None for an absent one such as ``bias=False``) as ``name``."""
        self._check_new_name("parameter", name, self.__dict__.get("_parameters", {}))
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(minidl.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is module state but not a parameter (e.g. BatchNorm's running mean).

        Persistent buffers are part of ``state_dict``; all buffers follow ``to()``/``cuda()``.
        """
        self._check_new_name("buffer", name, self.__dict__.get("_buffers", {}))
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(minidl Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module as ``name`` (what ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name("module", name, self.__dict__.get("_modules", {}))
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        """Route Parameters, Modules and buffer updates to their registries (see the module docstring)."""
        params, modules, buffers = (self.__dict__.get(key) for key in ("_parameters", "_modules", "_buffers"))
        if isinstance(value, Parameter):
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            _check_value(value, None, "parameter", name, "minidl.nn.Parameter or None expected")
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, keep="_modules")
            self.add_module(name, value)
        elif modules is not None and name in modules:
            _check_value(value, None, "child module", name, "minidl.nn.Module or None expected")
            modules[name] = None
        elif buffers is not None and name in buffers:
            _check_value(value, Tensor, "buffer", name, "minidl Tensor or None expected")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from the plain attributes and from every registry but ``keep``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {keep[1:]} before Module.__init__() call")
        self.__dict__.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        """Called only when normal lookup fails: look in the registries."""
        for registry in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__.get(registry)  # absent while copy/pickle rebuilds the object
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[registry]:
                del self.__dict__[registry][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    # ----------------------------------------------------------------------------- traversal
    def named_modules(self, memo: set[Module] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first in registration order, with dotted names
        (the root's name is ``prefix``); a module reachable twice is listed once."""
        memo = set() if memo is None else memo
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, _prefixed(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules (each once) with their attribute names."""
        seen: set[Module] = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        """Non-None entries of ``registry`` in this module (and below when ``recurse``) with dotted
        names; a tensor shared by several modules is listed once, under its first name."""
        seen: set[int] = set()  # ids: Tensor.__eq__ is elementwise, so tensors can't be compared in a set
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield _prefixed(module_prefix, name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``("0.weight", p), ("0.bias", p), ...`` in registration order (PyTorch's names)."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on ``self``; returns ``self``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) here and in every submodule."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: evaluation mode."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (e.g. False to freeze the module)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default), or to zeros in place."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.zero_()

    # ----------------------------------------------------------------------- device and dtype
    def _apply(self, fn: Callable[[Array], Array]) -> Module:
        """Convert every parameter, gradient and buffer array with ``fn`` (recursively).

        As PyTorch: a parameter stays the same object (its ``.array`` is replaced, so optimizers
        keep working), a converted buffer is replaced by a new tensor.
        """
        for module in self.children():
            module._apply(fn)
        for param in self._parameters.values():
            if param is not None:
                param.array = fn(param.array)
                if param.grad is not None:
                    param.grad.array = fn(param.grad.array)
        for name, buffer in self._buffers.items():
            if buffer is not None:
                converted = fn(buffer.array)
                if converted is not buffer.array:
                    self._buffers[name] = Tensor(converted, requires_grad=buffer.requires_grad)
        return self

    def to(self, *args: Any, device: str | None = None, dtype: Any = None) -> Module:
        """Move and/or cast parameters and buffers in place: ``to('cuda')``, ``to(minidl.float64)``,
        ``to('cpu', minidl.float32)``, ``to(tensor)`` (its device and dtype) or keywords.

        Only floating-point tensors change dtype (an int64 buffer such as BatchNorm's
        ``num_batches_tracked`` keeps it); ``dtype`` must be floating.  Returns ``self``.
        """
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda"):
                device = arg
            else:
                dtype = arg
        device = None if device is None else backend.normalize_device(device)
        dtype = backend.as_dtype(dtype)
        if dtype is not None and not backend.is_floating(dtype):
            raise TypeError(f"Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        return self._apply(lambda array: _convert(array, device, dtype))

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: str | int | None = None) -> Module:
        """Move to the GPU (``device`` is accepted for PyTorch compatibility; there is one GPU)."""
        return self.to("cuda")

    def float(self) -> Module:
        return self.to(backend.float32)

    def double(self) -> Module:
        return self.to(backend.float64)

    # ---------------------------------------------------------------------------- state dict
    def _local_state(self) -> Iterator[tuple[str, Tensor]]:
        """This module's own parameters and persistent buffers (not None), in registration order."""
        for name, param in self._parameters.items():
            if param is not None:
                yield name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                yield name, buffer

    def state_dict(self, *, destination: OrderedDict[str, Tensor] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (``"0.weight"``), detached (sharing
        memory with the module) unless ``keep_vars``.  A shared parameter appears under each name."""
        destination = OrderedDict() if destination is None else destination
        for name, value in self._local_state():
            destination[prefix + name] = value if keep_vars else value.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and buffers (cast to their dtype and
        device); returns ``(missing_keys, unexpected_keys)``.

        Raises RuntimeError listing every problem -- with ``strict``, the missing and unexpected
        keys; always, the shape mismatches (key, checkpoint shape, model shape) and non-tensor
        values -- in PyTorch's wording.  Unlike PyTorch, nothing is copied when it raises, so a
        failed load never leaves the module half-loaded.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        expected = self.state_dict(keep_vars=True)
        missing = [key for key in expected if key not in state_dict]
        unexpected = [key for key in state_dict if key not in expected]
        errors = [_load_error(key, state_dict[key], expected[key]) for key in expected if key in state_dict]
        errors = [error for error in errors if error]
        if strict and unexpected:
            errors.insert(0, f"Unexpected key(s) in state_dict: {_quoted(unexpected)}. ")
        if strict and missing:
            errors.insert(0, f"Missing key(s) in state_dict: {_quoted(missing)}. ")
        if errors:
            header = f"Error(s) in loading state_dict for {type(self).__name__}:"
            raise RuntimeError("\n\t".join([header, *errors]))
        with no_grad():
            for key, target in expected.items():
                if key in state_dict:
                    target.copy_(state_dict[key])
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------------------- repr
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside ``Name(...)`` (one line for most layers); override in subclasses."""
        return ""

    def __repr__(self) -> str:
        """PyTorch's nested format: ``Name(extra)`` or ``Name(\\n  (child): ...\\n)``."""
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return self._get_name() + "()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{self._get_name()}({extra_lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class _BackwardHooks:
    """One call's backward hooks, as PyTorch's ``BackwardHook``: each input and output tensor that
    requires grad passes through an identity node (``view_as``) carrying a tensor hook, so the
    engine hands over ``grad_output`` (at the output nodes, visited first) and then ``grad_input``.

    The module hooks run once every watched tensor of a side has its gradient (then the side is
    reset, so a second backward through a retained graph runs them again).  A replacement returned
    by a hook applies to the tensor whose gradient completed that side: the only one for a module
    with one tensor input (every layer here); with several, replacing is refused.  An output that
    gets no gradient (unused by the loss) keeps the hooks from running.
    """

    def __init__(self, module: Module) -> None:
        self.module = module
        self.grad_inputs: list[Tensor | None] = []
        self.grad_outputs: list[Tensor | None] = []
        self.n_inputs = self.n_outputs = 0  # watched tensors on each side
        self.inputs_waiting = self.outputs_waiting = 0

    def watch_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        self.grad_inputs = [None] * len(args)
        return tuple(self._watch(x, i, self._input_grad) for i, x in enumerate(args))

    def watch_outputs(self, output: Any) -> Any:
        outputs = output if isinstance(output, tuple) else (output,)
        self.grad_outputs = [None] * len(outputs)
        watched = tuple(self._watch(y, i, self._output_grad) for i, y in enumerate(outputs))
        return watched if isinstance(output, tuple) else watched[0]

    def _watch(self, x: Any, i: int, on_grad: Callable[[int, Tensor], Tensor]) -> Any:
        if not (isinstance(x, Tensor) and x.requires_grad):
            return x
        if on_grad == self._input_grad:
            self.n_inputs = self.inputs_waiting = self.n_inputs + 1
        else:
            self.n_outputs = self.outputs_waiting = self.n_outputs + 1
        alias = x.view_as(x)
        alias.register_hook(lambda grad: on_grad(i, grad))
        return alias

    def _output_grad(self, i: int, grad: Tensor) -> Tensor:
        self.grad_outputs[i] = grad
        self.outputs_waiting -= 1
        if self.outputs_waiting:
            return grad
        self.outputs_waiting = self.n_outputs  # ready for the next backward
        for hook in list(self.module._backward_pre_hooks.values()):
            self.grad_outputs = self._replaced(hook(self.module, tuple(self.grad_outputs)), self.grad_outputs,
                                               "grad_output")
        if not self.n_inputs:  # no input requires grad: PyTorch calls the hooks now, with Nones
            self._run_hooks()
        return self.grad_outputs[i]

    def _input_grad(self, i: int, grad: Tensor) -> Tensor:
        self.grad_inputs[i] = grad
        self.inputs_waiting -= 1
        if self.inputs_waiting:
            return grad
        self.inputs_waiting = self.n_inputs  # ready for the next backward
        self._run_hooks()
        return self.grad_inputs[i]

    def _run_hooks(self) -> None:
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, tuple(self.grad_inputs), tuple(self.grad_outputs))
            self.grad_inputs = self._replaced(result, self.grad_inputs, "grad_input")

    def _replaced(self, result: Any, grads: list[Tensor | None], what: str) -> list[Tensor | None]:
        """A hook's replacement for ``grads`` (checked), or ``grads`` when it returned None."""
        if result is None:
            return grads
        result = list(result) if isinstance(result, (tuple, list)) else [result]
        if len(result) != len(grads):
            raise RuntimeError(f"backward hook of {type(self.module).__name__} returned {len(result)} "
                               f"values for {what}, expected {len(grads)}")
        if sum(g is not None for g in grads) > 1:
            raise RuntimeError(f"backward hook of {type(self.module).__name__}: replacing {what} of a module "
                               "with several tensors on that side is not supported")
        return result


def _check_value(value: Any, allowed: type | None, kind: str, name: str, expected: str) -> None:
    """A TypeError when ``value`` is neither None nor an instance of ``allowed``."""
    if value is not None and (allowed is None or not isinstance(value, allowed)):
        raise TypeError(f"cannot assign '{type(value).__name__}' as {kind} '{name}' ({expected})")


def _convert(array: Array, device: str | None, dtype: Any) -> Array:
    """``array`` on ``device`` and, if floating, in ``dtype`` (the same array when nothing changes)."""
    if device is not None:
        array = backend.to_device(array, device)
    if dtype is not None and backend.is_floating(array.dtype) and array.dtype != dtype:
        array = array.astype(dtype)
    return array


def _quoted(keys: list[str]) -> str:
    return ", ".join(f'"{key}"' for key in keys)


def _load_error(key: str, value: Any, target: Tensor) -> str:
    """PyTorch's message for a state-dict entry that can't be copied into ``target`` ('' if it can)."""
    if not isinstance(value, Tensor):
        return (f'While copying the parameter named "{key}", expected minidl.Tensor or Tensor-like object '
                f"from checkpoint but received {type(value)}")
    if tuple(value.shape) != tuple(target.shape):
        return (f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                f"the shape in current model is {tuple(target.shape)}.")
    return ""
