"""Recurrent layers, as ``torch.nn``: ``RNNCell``, ``LSTMCell``, ``GRUCell`` and ``RNN``, ``LSTM``, ``GRU``.

A *cell* makes one time step: from the input x_t (N, input_size) and the state at t−1 it computes
the state at t (h, and c for the LSTM; each (N, hidden_size)).  A *layer* (``RNN``, ``LSTM``,
``GRU``) runs its cell along the sequence, once forwards and, if ``bidirectional``, once
backwards, and stacks ``num_layers`` of them, each reading the outputs of the one below.

Everything is written with minidl's differentiable ops (``linear``, ``sigmoid``, ``tanh``,
indexing, ``stack``, ``cat``), so backpropagation through time is the engine's ordinary backward
pass over the unrolled graph.  As PyTorch does on the CPU, a layer computes the input part of every
step, x_t W_ih^T + b_ih, for the whole sequence at once, then adds h_{t−1} W_hh^T + b_hh step by step.

Gates are stacked along the rows of the weights in PyTorch's order: (i, f, g, o) for the LSTM and
(r, z, n) for the GRU, so ``weight_ih`` is (gates · hidden_size, input_size).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from minidl.autograd.creation import zeros
from minidl.autograd.tensor import Tensor
from minidl.functional.dropout import dropout
from minidl.functional.linear import linear
from minidl.nn import init
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.ops.activation import relu, sigmoid, tanh
from minidl.ops.shape import cat, squeeze, stack, transpose, unsqueeze

State = tuple[Tensor, ...]  # (h,) or, for the LSTM, (h, c)
Step = Callable[[Tensor, State, Tensor, Tensor | None], State]


# ------------------------------------------------------------------------------ one time step
def _gate(gates: Tensor, k: int, hidden_size: int) -> Tensor:
    """The k-th block of ``hidden_size`` columns of ``gates`` (N, gates · hidden_size)."""
    return gates[:, k * hidden_size:(k + 1) * hidden_size]


def rnn_tanh_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    """h' = tanh(gi + h W_hh^T + b_hh), where gi = x W_ih^T + b_ih."""
    (h,) = state
    return (tanh(linear(h, w_hh, b_hh) + gi),)


def rnn_relu_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    """h' = relu(gi + h W_hh^T + b_hh), where gi = x W_ih^T + b_ih."""
    (h,) = state
    return (relu(linear(h, w_hh, b_hh) + gi),)


def lstm_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    """One LSTM step; gi = x W_ih^T + b_ih, gates = gi + h W_hh^T + b_hh split into (i, f, g, o)::

        i = σ(gates_i)   f = σ(gates_f)   g = tanh(gates_g)   o = σ(gates_o)
        c' = f ⊙ c + i ⊙ g
        h' = o ⊙ tanh(c')
    """
    h, c = state
    hidden_size = c.shape[-1]  # h has proj_size columns in an LSTM with projections
    gates = linear(h, w_hh, b_hh) + gi
    i, f = sigmoid(_gate(gates, 0, hidden_size)), sigmoid(_gate(gates, 1, hidden_size))
    g, o = tanh(_gate(gates, 2, hidden_size)), sigmoid(_gate(gates, 3, hidden_size))
    c_next = f * c + i * g
    return o * tanh(c_next), c_next


def gru_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    """One GRU step; gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh, each split into (r, z, n)::

        r = σ(gi_r + gh_r)   z = σ(gi_z + gh_z)
        n = tanh(gi_n + r ⊙ gh_n)          (r scales the hidden part, bias b_hn included)
        h' = (1 − z) ⊙ n + z ⊙ h           computed as n + z ⊙ (h − n), as PyTorch
    """
    (h,) = state
    hidden_size = h.shape[-1]
    gh = linear(h, w_hh, b_hh)
    r = sigmoid(_gate(gi, 0, hidden_size) + _gate(gh, 0, hidden_size))
    z = sigmoid(_gate(gi, 1, hidden_size) + _gate(gh, 1, hidden_size))
    n = tanh(_gate(gi, 2, hidden_size) + r * _gate(gh, 2, hidden_size))
    return ((h - n) * z + n,)


def project(state: State, w_hr: Tensor | None) -> State:
    """The LSTM with projections' h' = (o ⊙ tanh(c')) W_hr^T, W_hr (proj_size, hidden_size); c' kept.

    ``state`` is unchanged when ``w_hr`` is None (no projections).
    """
    return state if w_hr is None else (linear(state[0], w_hr), *state[1:])


STEPS: dict[str, tuple[Step, int]] = {  # mode -> (step, gates per hidden unit)
    "RNN_TANH": (rnn_tanh_step, 1), "RNN_RELU": (rnn_relu_step, 1), "LSTM": (lstm_step, 4), "GRU": (gru_step, 3),
}


def _check_sizes(name: str, input_size: int, hidden_size: int) -> None:
    """ValueError naming the layer unless both sizes are positive integers."""
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")


def _check_proj_size(name: str, mode: str, hidden_size: int, proj_size: int) -> None:
    """ValueError, with PyTorch's messages, unless 0 <= proj_size < hidden_size, and > 0 only for the LSTM."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
        raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError(f"{name}: proj_size has to be smaller than hidden_size")
    if proj_size > 0 and mode != "LSTM":
        raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN or GRU")


def _mode(name: str, nonlinearity: str) -> str:
    """The step of a plain RNN with ``nonlinearity`` ('tanh' or 'relu'): 'RNN_TANH' or 'RNN_RELU'."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{name}: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return f"RNN_{nonlinearity.upper()}"


def _uniform_init(module: Module, hidden_size: int) -> None:
    """Every parameter ~ U(−1/√hidden_size, 1/√hidden_size), PyTorch's initialisation."""
    bound = 1.0 / math.sqrt(hidden_size)
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


# ------------------------------------------------------------------------------------ cells
class RNNCellBase(Module):
    """A cell's parameters: ``weight_ih`` (gates · hidden, input), ``weight_hh`` (gates · hidden, hidden),
    ``bias_ih`` and ``bias_hh`` (gates · hidden,) or None; all ~ U(−1/√hidden, 1/√hidden)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool, device: str | None,
                 dtype: Any) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self._step, gates = STEPS[mode]
        self.weight_ih = Parameter(zeros(gates * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(zeros(gates * hidden_size, hidden_size, device=device, dtype=dtype))
        for name in ("bias_ih", "bias_hh"):
            self.register_parameter(name, Parameter(zeros(gates * hidden_size, device=device, dtype=dtype))
                                    if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter again from U(−1/√hidden_size, 1/√hidden_size)."""
        _uniform_init(self, self.hidden_size)

    def _run(self, input: Tensor, state: State | None, parts: int) -> State:
        """One step from ``input`` (N, input_size) or (input_size,) and the state (zeros if None)."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else unsqueeze(input, 0)
        if state is None:
            state = (zeros(x.shape[0], self.hidden_size, dtype=input.dtype, device=input.device),) * parts
        elif not batched:
            state = tuple(unsqueeze(s, 0) for s in state)
        out = self._step(linear(x, self.weight_ih, self.bias_ih), state, self.weight_hh, self.bias_hh)
        return out if batched else tuple(squeeze(s, 0) for s in out)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), as ``torch.nn.RNNCell``.

    x: (N, input_size) or (input_size,); hx: the same with hidden_size (zeros when None).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: str | None = None, dtype: Any = None) -> None:
        super().__init__(_mode("RNNCell", nonlinearity), input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, None if hx is None else (hx,), 1)[0]

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}")


class LSTMCell(RNNCellBase):
    """One LSTM step (see :func:`lstm_step`), as ``torch.nn.LSTMCell``: returns (h', c').

    x: (N, input_size) or (input_size,); hx: a pair (h, c) like the outputs (zeros when None).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        h, c = self._run(input, None if hx is None else tuple(hx), 2)
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step (see :func:`gru_step`), as ``torch.nn.GRUCell``: returns h'.

    x: (N, input_size) or (input_size,); hx: the same with hidden_size (zeros when None).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, None if hx is None else (hx,), 1)[0]


# ----------------------------------------------------------------------------------- layers
class RNNBase(Module):
    """A stack of ``num_layers`` recurrent layers, each one- or two-directional, as ``torch.nn.RNNBase``.

    Parameters, for layer k and direction suffix s ('' forwards, '_reverse' backwards), in PyTorch's
    order: ``weight_ih_l{k}{s}`` (gates · hidden, in_k), ``weight_hh_l{k}{s}`` (gates · hidden, H_out),
    with ``bias`` ``bias_ih_l{k}{s}`` and ``bias_hh_l{k}{s}`` (gates · hidden,), and, for an LSTM with
    ``proj_size`` > 0, ``weight_hr_l{k}{s}`` (proj_size, hidden); in_0 = input_size and in_k = H_out · D
    above, H_out = proj_size if proj_size > 0 else hidden_size; all ~ U(−1/√hidden, 1/√hidden).

    Shapes (L: sequence length, N: batch, D: 2 if bidirectional else 1, H: H_out)::

        input   (L, N, input_size), (N, L, input_size) with batch_first, or (L, input_size) unbatched
        h0      (num_layers · D, N, H) or (num_layers · D, H); zeros when not given
        output  (L, N, D · H) (batch_first: (N, L, D · H)): the last layer's h at every step, the
                two directions concatenated
        h_n     (num_layers · D, N, H): every layer's and direction's final h (batch_first does not apply)

    The LSTM's c0 and c_n have hidden_size columns in place of H (they differ only with projections).

    Between layers, ``dropout`` zeroes outputs in training mode (not after the last layer).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: str | None = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability "
                             f"of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent layer, so non-zero "
                          f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        _check_proj_size(name, mode, hidden_size, proj_size)
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        self.proj_size = proj_size
        self._step, gates = STEPS[mode]
        out_size = self._out_size()
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * len(self._suffixes())
            for suffix in self._suffixes():
                self._add(f"weight_ih_l{layer}{suffix}", (gates * hidden_size, layer_input), device, dtype)
                self._add(f"weight_hh_l{layer}{suffix}", (gates * hidden_size, out_size), device, dtype)
                if bias:
                    self._add(f"bias_ih_l{layer}{suffix}", (gates * hidden_size,), device, dtype)
                    self._add(f"bias_hh_l{layer}{suffix}", (gates * hidden_size,), device, dtype)
                if proj_size > 0:
                    self._add(f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size), device, dtype)
        self.reset_parameters()

    def _out_size(self) -> int:
        """H_out, the size of h and of each direction's output: proj_size if > 0, else hidden_size."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _suffixes(self) -> list[str]:
        """The parameter-name suffix of each direction."""
        return ["", "_reverse"] if self.bidirectional else [""]

    def _add(self, name: str, shape: tuple[int, ...], device: str | None, dtype: Any) -> None:
        """Register a parameter of zeros (``reset_parameters`` draws its values)."""
        self.register_parameter(name, Parameter(zeros(*shape, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        """Draw every parameter again from U(−1/√hidden_size, 1/√hidden_size)."""
        _uniform_init(self, self.hidden_size)

    def _weights(self, layer: int, suffix: str) -> tuple[Tensor | None, ...]:
        """(W_ih, W_hh, b_ih, b_hh, W_hr) of one layer and direction (biases None without ``bias``,
        W_hr None without projections)."""
        def get(kind: str, present: bool) -> Tensor | None:
            return getattr(self, f"{kind}_l{layer}{suffix}") if present else None
        return (get("weight_ih", True), get("weight_hh", True), get("bias_ih", self.bias), get("bias_hh", self.bias),
                get("weight_hr", self.proj_size > 0))

    def _run(self, input: Tensor, hx: State | None) -> tuple[Tensor, State]:
        """The whole stack on ``input``, from the initial states ``hx`` ((h0,) or (h0, c0), or None)."""
        x, hx, batched = self._prepare(input, hx)
        finals: list[State] = []
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self._suffixes()):
                index = layer * len(self._suffixes()) + d
                state = tuple(s[index] for s in hx)
                out, state = self._direction(x, state, self._weights(layer, suffix), reverse=d == 1)
                outputs.append(out)
                finals.append(state)
            x = cat(outputs, 2) if len(outputs) == 2 else outputs[0]
            if layer < self.num_layers - 1:
                x = dropout(x, self.dropout, self.training)
        final = tuple(stack([state[k] for state in finals], 0) for k in range(len(hx)))
        if self.batch_first:
            x = transpose(x, 0, 1)
        if not batched:
            return squeeze(x, 1), tuple(squeeze(s, 1) for s in final)
        return x, final

    def _direction(self, x: Tensor, state: State, weights: tuple[Tensor | None, ...],
                   reverse: bool) -> tuple[Tensor, State]:
        """Run one layer's cell along x (L, N, in) forwards or backwards (h projected by W_hr when
        given, see :func:`project`); outputs in time order."""
        w_ih, w_hh, b_ih, b_hh, w_hr = weights
        gi = linear(x, w_ih, b_ih)  # the input part of every step at once: (L, N, gates · hidden)
        length = x.shape[0]
        outputs: list[Tensor] = [None] * length  # type: ignore[list-item]
        for t in (reversed(range(length)) if reverse else range(length)):
            state = project(self._step(gi[t], state, w_hh, b_hh), w_hr)
            outputs[t] = state[0]
        return stack(outputs, 0), state

    def _prepare(self, input: Tensor, hx: State | None) -> tuple[Tensor, State, bool]:
        """input as (L, N, input_size) and the initial states as (layers · D, N, H_out), and the LSTM's c0 as
        (layers · D, N, hidden_size), checked."""
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        batched = input.ndim == 3
        x = (transpose(input, 0, 1) if self.batch_first else input) if batched else unsqueeze(input, 1)
        sizes = (self._out_size(), self.hidden_size) if self.mode == "LSTM" else (self.hidden_size,)
        shapes = [(self.num_layers * len(self._suffixes()), x.shape[1], size) for size in sizes]
        if hx is None:
            return x, tuple(zeros(*shape, dtype=input.dtype, device=input.device) for shape in shapes), batched
        for s in hx:
            if s.ndim != input.ndim:
                raise RuntimeError(f"{name}: for {input.ndim}-D input, hx should be {input.ndim}-D but got "
                                   f"{s.ndim}-D tensor")
        hx = hx if batched else tuple(unsqueeze(s, 1) for s in hx)
        for s, expected in zip(hx, shapes):
            if tuple(s.shape) != expected:
                raise RuntimeError(f"{name}: Expected hidden size {expected}, got {list(s.shape)}")
        return x, hx, batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}" + (f", proj_size={self.proj_size}" if self.proj_size else "")
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False}
        return text + "".join(f", {k}={getattr(self, k)}" for k, v in defaults.items() if getattr(self, k) != v)


class RNN(RNNBase):
    """Elman RNN layers, h_t = tanh(x_t W_ih^T + b_ih + h_{t−1} W_hh^T + b_hh) (or relu), as ``torch.nn.RNN``.

    ``forward(input, hx=None)`` returns (output, h_n); shapes in :class:`RNNBase`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str | None = None, dtype: Any = None, *, proj_size: int = 0) -> None:
        super().__init__(_mode("RNN", nonlinearity), input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._run(input, None if hx is None else (hx,))
        return output, h_n

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}")


class LSTM(RNNBase):
    """LSTM layers (the step of :func:`lstm_step`), as ``torch.nn.LSTM``.

    ``forward(input, hx=None)`` with ``hx = (h0, c0)`` returns (output, (h_n, c_n)); c0 and c_n have
    h0's shape but hidden_size columns (see :class:`RNNBase`).  With ``proj_size`` > 0 (and
    < hidden_size) each step's h is projected, h_t = (o_t ⊙ tanh(c_t)) W_hr^T (see :func:`project`),
    so h and the output have proj_size columns per direction.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: str | None = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        output, (h_n, c_n) = self._run(input, None if hx is None else tuple(hx))
        return output, (h_n, c_n)


class GRU(RNNBase):
    """GRU layers (the step of :func:`gru_step`), as ``torch.nn.GRU``.

    ``forward(input, hx=None)`` returns (output, h_n); shapes in :class:`RNNBase`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str | None = None, dtype: Any = None, *, proj_size: int = 0) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._run(input, None if hx is None else (hx,))
        return output, h_n
