"""Recurrent layers and cells against torch.nn (same weights: outputs, final states, every gradient)
and gradchecked in float64."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from helpers import DEVICE, DTYPES, assert_close, md, rng, th

import minidl
from minidl import nn

LAYERS = ["RNN", "RNN_relu", "LSTM", "GRU"]
OPTIONS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"batch_first": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False, "num_layers": 2},
]


def make_layer(kind: str, dtype: Any, input_size: int = 3, hidden_size: int = 4, **options: Any) -> tuple[Any, Any]:
    """A minidl layer and a torch layer of the same kind holding the minidl layer's weights."""
    name, extra = (kind, {}) if kind != "RNN_relu" else ("RNN", {"nonlinearity": "relu"})
    layer = getattr(nn, name)(input_size, hidden_size, **extra, **options, device=DEVICE, dtype=dtype)
    ref = getattr(torch.nn, name)(input_size, hidden_size, **extra, **options, dtype=torch.float64)
    ref.load_state_dict({k: th(np.asarray(minidl.backend.to_numpy(v.array))) for k, v in layer.state_dict().items()})
    return layer, ref


def states(kind: str, shape: tuple[int, ...], dtype: Any, seed: int) -> list[np.ndarray]:
    """Initial state arrays: [h0] or [h0, c0] for an LSTM."""
    return [rng(seed + k).standard_normal(shape).astype(dtype) for k in range(2 if kind == "LSTM" else 1)]


def rounded(t: torch.Tensor, dtype: Any) -> torch.Tensor:
    """A float64 torch result in ``dtype`` (the float32 runs are compared with the float64 reference,
    rounded: the exact answer to float32 precision)."""
    return t.to(torch.float32 if dtype == np.float32 else torch.float64)


def compare_run(m_out: Any, t_out: Any, m_leaves: list[Any], t_leaves: list[Any], dtype: Any) -> float:
    """Outputs equal; backward with random upstream gradients on every output; leaf gradients equal."""
    m_flat = [m_out[0], *(m_out[1] if isinstance(m_out[1], tuple) else [m_out[1]])]
    t_flat = [t_out[0], *(t_out[1] if isinstance(t_out[1], tuple) else [t_out[1]])]
    worst = 0.0
    m_loss, t_loss = 0, 0
    for k, (m, t) in enumerate(zip(m_flat, t_flat)):
        worst = max(worst, assert_close(m, rounded(t, dtype), dtype, f"output {k}"))
        upstream = rng(100 + k).standard_normal(tuple(t.shape))
        m_loss = m_loss + (m * md(upstream.astype(dtype))).sum()
        t_loss = t_loss + (t * th(upstream)).sum()
    m_loss.backward()
    t_loss.backward()
    for k, (m, t) in enumerate(zip(m_leaves, t_leaves)):
        assert m.grad is not None, f"leaf {k} has no gradient"
        worst = max(worst, assert_close(m.grad, rounded(t.grad, dtype), dtype, f"gradient of leaf {k}"))
    return worst


def sequence(options: dict[str, Any], dtype: Any, length: int, batch: int, seed: int) -> tuple[Any, Any]:
    """A random input (L, N, 3), or (N, L, 3) with ``batch_first``, as a minidl leaf and a float64 torch leaf."""
    shape = (batch, length, 3) if options.get("batch_first") else (length, batch, 3)
    x = rng(seed).standard_normal(shape).astype(dtype)
    return md(x, True), th(x.astype(np.float64), True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("with_h0", [False, True])
def test_layer_matches_torch(kind: str, options: dict[str, Any], dtype: Any, with_h0: bool) -> None:
    layer, ref = make_layer(kind, dtype, **options)
    batch, directions = 3, 2 if options.get("bidirectional") else 1
    m_x, t_x = sequence(options, dtype, 5, batch, 1)
    m_leaves, t_leaves = [m_x, *layer.parameters()], [t_x, *ref.parameters()]
    args_m, args_t = (m_x,), (t_x,)
    if with_h0:
        arrays = states(kind, (options.get("num_layers", 1) * directions, batch, 4), dtype, 7)
        m_h, t_h = [md(a, True) for a in arrays], [th(a.astype(np.float64), True) for a in arrays]
        args_m += (tuple(m_h) if kind == "LSTM" else m_h[0],)
        args_t += (tuple(t_h) if kind == "LSTM" else t_h[0],)
        m_leaves, t_leaves = m_leaves + m_h, t_leaves + t_h
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in ref.named_parameters()]
    compare_run(layer(*args_m), ref(*args_t), m_leaves, t_leaves, dtype)


@pytest.mark.parametrize("kind", LAYERS)
def test_layer_matches_torch_in_float32_against_torch_float32(kind: str) -> None:
    layer, ref = make_layer(kind, np.float32, num_layers=2, bidirectional=True)
    ref = ref.float()
    x = rng(2).standard_normal((6, 2, 3)).astype(np.float32)
    m_x, t_x = md(x, True), th(x, True)
    compare_run(layer(m_x), ref(t_x), [m_x, *layer.parameters()], [t_x, *ref.parameters()], np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", LAYERS)
def test_unbatched_input(kind: str, dtype: Any) -> None:
    layer, ref = make_layer(kind, dtype, num_layers=2, bidirectional=True)
    x = rng(3).standard_normal((4, 3)).astype(dtype)
    arrays = states(kind, (4, 4), dtype, 9)
    m_x, t_x = md(x, True), th(x.astype(np.float64), True)
    m_h, t_h = [md(a, True) for a in arrays], [th(a.astype(np.float64), True) for a in arrays]
    m_out = layer(m_x, tuple(m_h) if kind == "LSTM" else m_h[0])
    t_out = ref(t_x, tuple(t_h) if kind == "LSTM" else t_h[0])
    assert tuple(m_out[0].shape) == (4, 8)
    compare_run(m_out, t_out, [m_x, *layer.parameters(), *m_h], [t_x, *ref.parameters(), *t_h], dtype)


PROJ_OPTIONS = [
    {"num_layers": layers, "bidirectional": both, "batch_first": first}
    for layers in (1, 2) for both in (False, True) for first in (False, True)
] + [{"num_layers": 2, "bidirectional": True, "bias": False}]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", PROJ_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("with_h0", [False, True])
def test_lstm_with_projections_matches_torch(options: dict[str, Any], dtype: Any, with_h0: bool) -> None:
    layer, ref = make_layer("LSTM", dtype, hidden_size=5, proj_size=2, **options)
    batch, directions = 3, 2 if options.get("bidirectional") else 1
    m_x, t_x = sequence(options, dtype, 4, batch, 16)
    m_leaves, t_leaves = [m_x, *layer.parameters()], [t_x, *ref.parameters()]
    args_m, args_t = (m_x,), (t_x,)
    if with_h0:  # h0 has proj_size columns, c0 hidden_size
        stacked = options["num_layers"] * directions
        arrays = [rng(17 + k).standard_normal((stacked, batch, size)).astype(dtype) for k, size in enumerate((2, 5))]
        m_h, t_h = [md(a, True) for a in arrays], [th(a.astype(np.float64), True) for a in arrays]
        args_m, args_t = (m_x, tuple(m_h)), (t_x, tuple(t_h))
        m_leaves, t_leaves = m_leaves + m_h, t_leaves + t_h
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in ref.named_parameters()]
    m_out = layer(*args_m)
    assert m_out[0].shape[-1] == 2 * directions and m_out[1][0].shape[-1] == 2 and m_out[1][1].shape[-1] == 5
    compare_run(m_out, ref(*args_t), m_leaves, t_leaves, dtype)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_lstm_with_projections_in_float32_against_torch_float32() -> None:
    layer, ref = make_layer("LSTM", np.float32, hidden_size=5, proj_size=3, num_layers=2, bidirectional=True)
    ref = ref.float()
    x = rng(18).standard_normal((6, 2, 3)).astype(np.float32)
    m_x, t_x = md(x, True), th(x, True)
    compare_run(layer(m_x), ref(t_x), [m_x, *layer.parameters()], [t_x, *ref.parameters()], np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_with_projections_unbatched(dtype: Any) -> None:
    layer, ref = make_layer("LSTM", dtype, hidden_size=5, proj_size=2, num_layers=2, bidirectional=True)
    x = rng(19).standard_normal((4, 3)).astype(dtype)
    arrays = [rng(20 + k).standard_normal((4, size)).astype(dtype) for k, size in enumerate((2, 5))]
    m_x, t_x = md(x, True), th(x.astype(np.float64), True)
    m_h, t_h = [md(a, True) for a in arrays], [th(a.astype(np.float64), True) for a in arrays]
    m_out = layer(m_x, tuple(m_h))
    assert tuple(m_out[0].shape) == (4, 4)
    compare_run(m_out, ref(t_x, tuple(t_h)), [m_x, *layer.parameters(), *m_h], [t_x, *ref.parameters(), *t_h], dtype)


CELLS = ["RNNCell", "RNNCell_relu", "LSTMCell", "GRUCell"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(kind: str, dtype: Any, batched: bool, bias: bool) -> None:
    name, extra = (kind, {}) if kind != "RNNCell_relu" else ("RNNCell", {"nonlinearity": "relu"})
    cell = getattr(nn, name)(3, 5, bias=bias, **extra, device=DEVICE, dtype=dtype)
    ref = getattr(torch.nn, name)(3, 5, bias=bias, **extra, dtype=torch.float64)
    ref.load_state_dict({k: th(minidl.backend.to_numpy(v.array)) for k, v in cell.state_dict().items()})
    lead = (4,) if batched else ()
    x = rng(5).standard_normal((*lead, 3)).astype(dtype)
    arrays = [rng(6 + k).standard_normal((*lead, 5)).astype(dtype) for k in range(2 if name == "LSTMCell" else 1)]
    m_x, t_x = md(x, True), th(x.astype(np.float64), True)
    m_h, t_h = [md(a, True) for a in arrays], [th(a.astype(np.float64), True) for a in arrays]
    m_out = cell(m_x, tuple(m_h) if name == "LSTMCell" else m_h[0])
    t_out = ref(t_x, tuple(t_h) if name == "LSTMCell" else t_h[0])
    m_pair = (m_out[0], m_out[1:]) if name == "LSTMCell" else (m_out, ())
    t_pair = (t_out[0], t_out[1:]) if name == "LSTMCell" else (t_out, ())
    compare_run(m_pair, t_pair, [m_x, *cell.parameters(), *m_h], [t_x, *ref.parameters(), *t_h], dtype)
    no_state = cell(m_x)  # zeros as the initial state
    t_no_state = ref(t_x)
    assert_close(no_state[0] if name == "LSTMCell" else no_state,
                 rounded(t_no_state[0] if name == "LSTMCell" else t_no_state, dtype), dtype)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}])
def test_layer_gradcheck(kind: str, options: dict[str, Any]) -> None:
    layer, _ = make_layer(kind, np.float64, input_size=2, hidden_size=2, **options)
    directions = 2 if options.get("bidirectional") else 1
    x = md(rng(11).standard_normal((3, 2, 2)), True)
    h = [md(a, True) for a in states(kind, (options.get("num_layers", 1) * directions, 2, 2), np.float64, 12)]

    def run(x: Any, *rest: Any) -> tuple[Any, ...]:  # the parameters in ``rest`` are the layer's own
        output, final = layer(x, tuple(h) if kind == "LSTM" else h[0])
        return (output, *final) if kind == "LSTM" else (output, final)

    assert minidl.gradcheck(run, [x, *h, *layer.parameters()])


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}])
def test_lstm_with_projections_gradcheck(options: dict[str, Any]) -> None:
    layer, _ = make_layer("LSTM", np.float64, input_size=2, hidden_size=3, proj_size=2, **options)
    stacked = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    x = md(rng(21).standard_normal((3, 2, 2)), True)
    h = [md(rng(22 + k).standard_normal((stacked, 2, size)), True) for k, size in enumerate((2, 3))]

    def run(x: Any, *rest: Any) -> tuple[Any, ...]:  # the parameters in ``rest`` are the layer's own
        output, final = layer(x, tuple(h))
        return (output, *final)

    assert minidl.gradcheck(run, [x, *h, *layer.parameters()])


@pytest.mark.parametrize("kind", CELLS)
def test_cell_gradcheck(kind: str) -> None:
    name, extra = (kind, {}) if kind != "RNNCell_relu" else ("RNNCell", {"nonlinearity": "relu"})
    cell = getattr(nn, name)(3, 2, **extra, device=DEVICE, dtype=np.float64)
    x = md(rng(13).standard_normal((2, 3)), True)
    h = [md(rng(14 + k).standard_normal((2, 2)), True) for k in range(2 if name == "LSTMCell" else 1)]

    def run(x: Any, *rest: Any) -> Any:
        return cell(x, tuple(h) if name == "LSTMCell" else h[0])

    assert minidl.gradcheck(run, [x, *h, *cell.parameters()])


def test_parameters_names_shapes_and_init_as_torch() -> None:
    layer = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    assert [(n, tuple(p.shape)) for n, p in layer.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    bound = 1 / np.sqrt(5)
    values = np.concatenate([minidl.backend.to_numpy(p.array).ravel() for p in layer.parameters()])
    assert values.min() >= -bound and values.max() <= bound and values.std() > bound / 3
    assert layer.weight_ih_l0.dtype == minidl.float32
    cell, ref_cell = nn.GRUCell(3, 5, bias=False), torch.nn.GRUCell(3, 5, bias=False)
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in ref_cell.named_parameters()]
    assert cell.bias_ih is None
    assert repr(nn.GRU(3, 5, num_layers=2, batch_first=True)) == repr(torch.nn.GRU(3, 5, num_layers=2,
                                                                                  batch_first=True))
    assert repr(nn.RNNCell(3, 5, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 5, nonlinearity="relu"))


def test_projection_parameters_init_repr_and_state_dict_as_torch() -> None:
    layer = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    assert [(n, tuple(p.shape)) for n, p in layer.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    assert list(layer.state_dict()) == list(ref.state_dict())
    bound = 1 / np.sqrt(5)  # hidden_size, not proj_size, as PyTorch
    values = np.concatenate([minidl.backend.to_numpy(p.array).ravel() for p in layer.parameters()])
    assert values.min() >= -bound and values.max() <= bound and values.std() > bound / 3
    weight_hr = minidl.backend.to_numpy(layer.weight_hr_l1_reverse.array)
    assert weight_hr.min() >= -bound and weight_hr.max() <= bound and weight_hr.std() > bound / 3
    layer.load_state_dict({k: md(v.detach().numpy()) for k, v in ref.state_dict().items()})
    np.testing.assert_array_equal(minidl.backend.to_numpy(layer.weight_hr_l0.array), ref.weight_hr_l0.detach().numpy())
    assert repr(layer) == repr(ref)
    no_bias = nn.LSTM(3, 5, bias=False, proj_size=4)
    assert [(n, tuple(p.shape)) for n, p in no_bias.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in torch.nn.LSTM(3, 5, bias=False, proj_size=4).named_parameters()]
    assert repr(no_bias) == repr(torch.nn.LSTM(3, 5, bias=False, proj_size=4))
    assert nn.LSTM(3, 5).proj_size == 0 and "proj_size" not in repr(nn.LSTM(3, 5))


def test_dropout_between_layers_only_in_training() -> None:
    minidl.manual_seed(0)
    layer = nn.GRU(3, 4, num_layers=2, dropout=0.5, device=DEVICE)
    x = md(rng(15).standard_normal((5, 2, 3)).astype(np.float32))
    layer.eval()
    first, again = layer(x)[0], layer(x)[0]
    np.testing.assert_array_equal(minidl.backend.to_numpy(first.array), minidl.backend.to_numpy(again.array))
    layer.train()
    assert not np.array_equal(minidl.backend.to_numpy(layer(x)[0].array), minidl.backend.to_numpy(first.array))


@pytest.mark.parametrize("make,error,match", [
    (lambda: nn.RNN(3, 0), ValueError, "hidden_size must be a positive integer, got 0"),
    (lambda: nn.LSTM(3, 4, num_layers=0), ValueError, "num_layers must be a positive integer, got 0"),
    (lambda: nn.GRU(3, 4, dropout=1.5), ValueError, "dropout should be a number in range"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "Unknown nonlinearity 'sigmoid'"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity 'gelu'"),
    (lambda: nn.LSTMCell(2.5, 4), ValueError, "input_size must be a positive integer, got 2.5"),
    (lambda: nn.LSTM(3, 4)(md(np.ones((2, 2, 2, 3), np.float32))), ValueError, "Expected input to be 2D or 3D, got 4D"),
    (lambda: nn.GRU(3, 4)(md(np.ones((2, 2, 5), np.float32))), RuntimeError, "Expected 3, got 5"),
    (lambda: nn.RNN(3, 4)(md(np.ones((2, 2, 3), np.float32)), md(np.ones((1, 2, 5), np.float32))), RuntimeError,
     "Expected hidden size \\(1, 2, 4\\), got \\[1, 2, 5\\]"),
    (lambda: nn.RNN(3, 4)(md(np.ones((2, 3), np.float32)), md(np.ones((1, 2, 4), np.float32))), RuntimeError,
     "for 2-D input, hx should be 2-D"),
    (lambda: nn.GRUCell(3, 4)(md(np.ones((1, 2, 3), np.float32))), ValueError, "Expected input to be 1D or 2D"),
    (lambda: nn.LSTM(3, 4, proj_size=-1), ValueError,
     "proj_size should be a positive integer or zero to disable projections"),
    (lambda: nn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller than hidden_size"),
    (lambda: nn.LSTM(3, 4, proj_size=6), ValueError, "proj_size has to be smaller than hidden_size"),
    (lambda: nn.GRU(3, 4, proj_size=2), ValueError, "proj_size argument is only supported for LSTM, not RNN or GRU"),
    (lambda: nn.RNN(3, 4, proj_size=2), ValueError, "proj_size argument is only supported for LSTM, not RNN or GRU"),
    (lambda: nn.LSTM(3, 4, proj_size=2)(md(np.ones((2, 2, 3), np.float32)),
                                        (md(np.ones((1, 2, 4), np.float32)), md(np.ones((1, 2, 4), np.float32)))),
     RuntimeError, "Expected hidden size \\(1, 2, 2\\), got \\[1, 2, 4\\]"),
    (lambda: nn.LSTM(3, 4, proj_size=2)(md(np.ones((2, 2, 3), np.float32)),
                                        (md(np.ones((1, 2, 2), np.float32)), md(np.ones((1, 2, 2), np.float32)))),
     RuntimeError, "Expected hidden size \\(1, 2, 4\\), got \\[1, 2, 2\\]"),
])
def test_clear_errors(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_dropout_with_one_layer_warns_as_torch() -> None:
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(3, 4, num_layers=2, dropout=0.2)
