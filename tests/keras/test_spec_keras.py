"""The Keras 3 (TensorFlow) backend of model descriptions: building, weights, and parity with minidl layer by layer.

Bounds.  Where the math is the same, float64 outputs, gradients, parameters and losses agree to
1e-9 (measured: 1e-13 or better).  To make the optimizer math the same, the exact descriptions use
hyperparameters that float32 represents exactly (Keras 3.15 casts Python hyperparameters through
float32) and a negligible epsilon (Keras and PyTorch place Adam's and RMSprop's epsilon
differently); see docs/keras.md.  The looser bounds below are the measured optimizer-path and
framework differences, each with its own test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import minidl.spec
from minidl.spec import backend_keras, backend_minidl, build, copy_weights, load, parity
from minidl.spec.masks import DropoutMasks
from minidl.spec.parity import relative_difference

ROOT = Path(__file__).resolve().parents[2]
PAPER = ["fc", "residual", "conv"]
#: hyperparameters that float32 holds exactly (0.875 = 1 - 2^-3, 0.9990234375 = 1 - 2^-10)
BETAS = [0.875, 0.9990234375]
TINY = 1e-30  # an epsilon that no longer matters: Keras' and PyTorch's formulas coincide


def small(layers: list[dict], **sections) -> dict:
    """A small description: clips of 10 x 16 values, 6 classes."""
    return {"name": "small", "input": {"shape": [10, 16]}, "layers": layers, "output": {"units": 6}, **sections}


# Every layer type (in every input layout it takes), both losses, all three optimizers, L2 and the normal init.
COVERAGE = {
    "dense": small([{"type": "fc", "units": 12, "dropout": 0.25},
                    {"type": "batchnorm"},
                    {"type": "fc", "units": 10, "activation": "tanh"},
                    {"type": "residual", "units": 10, "depth": 3, "activation": "relu", "dropout": 0.1},
                    {"type": "residual", "units": 8, "depth": 1, "activation": "relu"},
                    {"type": "residual", "units": 8, "depth": 2, "activation": "none"},
                    {"type": "activation", "activation": "sigmoid"},
                    {"type": "flatten"},
                    {"type": "dropout", "rate": 0.5}],
                   loss={"type": "mse"},
                   optimizer={"type": "sgd_momentum", "lr": 0.1, "momentum": 0.5},
                   regularization={"l2": 1e-3}, init={"scheme": "normal", "weight_scale": 0.1}),
    "conv1d": small([{"type": "conv1d", "channels": 6, "kernel": 3, "dropout": 0.2},
                     {"type": "batchnorm"},
                     {"type": "conv1d", "channels": 5, "kernel": 2, "stride": 2, "padding": 1, "activation": "tanh"},
                     {"type": "dropout", "rate": 0.3},
                     {"type": "conv1d", "channels": 4, "kernel": 2, "padding": "same", "activation": "none"},
                     {"type": "pool", "op": "max", "over": "time"},
                     {"type": "fc", "units": 7, "activation": "sigmoid"}],
                    optimizer={"type": "sgd_momentum", "lr": 0.1, "momentum": 0.875, "nesterov": True}),
    "conv2d": small([{"type": "conv2d", "channels": 3, "kernel": [3, 5], "dropout": 0.2},
                     {"type": "batchnorm"},
                     {"type": "conv2d", "channels": 3, "kernel": 3, "stride": [1, 2], "padding": [1, 0],
                      "activation": "sigmoid"},
                     {"type": "pool", "op": "max", "over": "time"},
                     {"type": "batchnorm"},
                     {"type": "conv1d", "channels": 4, "kernel": 3, "padding": "valid"},
                     {"type": "pool", "op": "mean", "over": "all"}],
                    optimizer={"type": "adam", "lr": 0.01, "amsgrad": True, "betas": BETAS, "eps": TINY},
                    regularization={"l2": 0.01}),
    "image": small([{"type": "conv2d", "channels": 2, "kernel": 2, "stride": 2, "padding": "valid",
                     "activation": "tanh"},
                    {"type": "activation", "activation": "relu"},
                    {"type": "dropout", "rate": 0.4},
                    {"type": "pool", "op": "mean", "over": "time"},
                    {"type": "flatten"}],
                   loss={"type": "mse"}, optimizer={"type": "sgd_momentum", "lr": 0.5, "momentum": 0.0}),
    "reshapes": small([{"type": "conv2d", "channels": 2, "kernel": 3, "padding": 1},
                       {"type": "pool", "op": "max", "over": "all"},
                       {"type": "fc", "units": 8}],
                      init={"scheme": "normal", "weight_scale": 0.5},
                      optimizer={"type": "adam", "betas": BETAS, "eps": TINY}),
    "clip": small([{"type": "pool", "op": "mean", "over": "time"}, {"type": "fc", "units": 8}],
                  optimizer={"type": "rmsprop", "alpha": 0.9990234375, "eps": TINY}),
    "flatten": small([{"type": "conv1d", "channels": 3, "kernel": 3, "stride": 2, "padding": "valid"},
                      {"type": "flatten"}, {"type": "residual", "units": 5}],
                     optimizer={"type": "rmsprop", "lr": 0.01, "alpha": 0.875, "eps": TINY, "centered": True,
                                "momentum": 0.5}),
    "frames": small([{"type": "frame_fc", "units": 12, "dropout": 0.25},
                     {"type": "frame_fc", "units": 10, "activation": "tanh"},
                     {"type": "attention_pool", "units": 7},
                     {"type": "dropout", "rate": 0.2}],
                    optimizer={"type": "adam", "lr": 0.01, "betas": BETAS, "eps": TINY},
                    regularization={"l2": 0.01}),
    "attention": small([{"type": "frame_fc", "units": 8, "activation": "none", "dropout": 0.5},
                        {"type": "attention_pool", "units": 9, "activation": "none"},
                        {"type": "fc", "units": 8, "activation": "relu"}],
                       loss={"type": "mse"}, init={"scheme": "normal", "weight_scale": 0.3},
                       optimizer={"type": "sgd_momentum", "lr": 0.5, "momentum": 0.875, "nesterov": True}),
}
NORMS = {"dense": ["1"], "conv1d": ["1"], "conv2d": ["1", "4"]}  # the rows of batchnorm layers


def exact(desc):
    """A shipped description with the optimizer made exactly expressible in Keras (same Adam, other numbers)."""
    return load(desc).replace({"optimizer.eps": TINY, "optimizer.betas": BETAS})


def check(report, tolerance: float = 1e-9, skip_param: tuple[str, ...] = ()) -> None:
    """Every output, gradient, parameter (but the rows in ``skip_param``) and loss within ``tolerance``."""
    bad = [(r.index, r.layer, r.output, r.grad, r.param) for r in report.rows
           if max(r.output, r.grad or 0.0, 0.0 if r.index in skip_param else r.param or 0.0) > tolerance]
    assert not bad and report.loss_difference <= tolerance, report.table()


# ---------------------------------------------------------------------------------- building and weights
def test_coverage_has_every_layer_type() -> None:
    assert {layer["type"] for d in COVERAGE.values() for layer in d["layers"]} == set(minidl.spec.Layer.registry)


@pytest.mark.parametrize("name", PAPER)
def test_shipped_descriptions_build_in_keras_with_minidl_names(name: str) -> None:
    desc = load(ROOT / "experiments" / "models" / f"{name}.toml")
    model, loss_fn, optimizer = build(desc, backend="keras")
    mine = backend_minidl.get_weights(build(desc).model)
    theirs = backend_keras.get_weights(model)
    assert {k: v.shape for k, v in theirs.items()} == {k: v.shape for k, v in mine.items()}
    assert model.count_params() == sum(desc.params)
    assert type(optimizer).__name__ == "Adam" and model.output.shape == (None, 527)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 10, 128)).astype(np.float32)
    y = np.zeros((2, 527), np.float32)
    assert np.isfinite(float(loss_fn(model(x), y)))


@pytest.mark.parametrize("name", PAPER)
def test_shipped_descriptions_match_minidl_with_exact_optimizer(name: str) -> None:
    check(parity(exact(ROOT / "experiments" / "models" / f"{name}.toml"), against="keras", steps=2, batch=8))


@pytest.mark.parametrize("name", ["conv2d", "frames"])
def test_weights_round_trip_between_backends(name: str) -> None:
    desc = load(COVERAGE[name])
    source, target = build(desc), build(desc, backend="keras", dtype="float64")
    copy_weights(source.model, target.model, "minidl", "keras")
    back = backend_keras.get_weights(target.model)
    assert {k: v.shape for k, v in back.items()} == {k: v.shape for k, v in
                                                      backend_minidl.get_weights(source.model).items()}
    for key, value in backend_minidl.get_weights(source.model).items():
        np.testing.assert_array_equal(back[key], value.astype(back[key].dtype), err_msg=key)
    with pytest.raises(KeyError, match="missing keys"):
        backend_keras.set_weights(target.model, {})


def test_default_init_is_pytorchs_distribution_and_seeded() -> None:
    desc = load(small([{"type": "conv1d", "channels": 64, "kernel": 3}, {"type": "fc", "units": 256}]))
    first = backend_keras.get_weights(build(desc, backend="keras").model)
    np.testing.assert_array_equal(first["1.fc.weight"], backend_keras.get_weights(build(desc, backend="keras").model)
                                  ["1.fc.weight"])
    for key, fan_in in (("0.conv", 16 * 3), ("1.fc", 64 * 10)):
        for part in ("weight", "bias"):  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch.nn.Linear/Conv1d
            values, bound = first[f"{key}.{part}"], 1 / np.sqrt(fan_in)
            assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
            assert abs(values.std() - bound / np.sqrt(3)) < 0.1 * bound
    normal = backend_keras.get_weights(build(load(COVERAGE["dense"]), backend="keras").model)
    assert abs(normal["0.fc.weight"].std() - 0.1) < 0.01 and not normal["0.fc.bias"].any()


def test_sgd_dampening_is_refused_and_device_is_cpu() -> None:
    desc = load(small([], optimizer={"type": "sgd_momentum", "dampening": 0.5}))
    with pytest.raises(ValueError, match="dampening"):
        build(desc, backend="keras")
    with pytest.raises(ValueError, match="CPU"):
        build(load(small([])), backend="keras", device="cuda")


def test_built_model_trains_with_keras_fit() -> None:
    desc = load(COVERAGE["conv1d"])
    model, loss_fn, optimizer = build(desc, backend="keras")
    model.compile(optimizer=optimizer, loss=loss_fn.criterion)  # Keras adds model.losses (the L2) itself
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (32, 10, 16)).astype(np.float32), (rng.random((32, 6)) < 0.2).astype(np.float32)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name", list(COVERAGE))
def test_every_layer_type_matches_minidl_in_float64(name: str) -> None:
    # batchnorm running_var is the one buffer computed differently (test_batchnorm_running_var_is_biased)
    report = parity(COVERAGE[name], against="keras", steps=4, dtype="float64", batch=6)
    check(report, skip_param=tuple(NORMS.get(name, ())))


@pytest.mark.parametrize("name", ["dense", "conv1d", "frames", "attention"])
def test_float32_matches_within_rounding(name: str) -> None:
    norms = tuple(NORMS.get(name, ()))
    report = parity(COVERAGE[name], against="keras", steps=3, dtype="float32", batch=6)
    check(report, tolerance=1e-4, skip_param=norms)
    assert max(r.drift or 0.0 for r in report.rows if r.index not in norms) < 1e-5


def test_batchnorm_running_var_is_biased_in_keras() -> None:
    """Keras updates moving_variance with the biased batch variance, PyTorch/minidl with the unbiased one."""
    dense = load(small([{"type": "fc", "units": 5}, {"type": "batchnorm"},  # flat: n = N
                       {"type": "activation", "activation": "none"}],
                      optimizer={"type": "sgd_momentum", "lr": 0.1, "momentum": 0.5}))
    conv = load(small([{"type": "conv2d", "channels": 2, "kernel": 3}, {"type": "batchnorm"},  # image: n = N*H*W
                       {"type": "activation", "activation": "tanh"}, {"type": "pool", "op": "mean", "over": "time"},
                       {"type": "batchnorm"}],  # seq: n = N*W
                      optimizer={"type": "sgd_momentum", "lr": 0.1, "momentum": 0.5}))
    batch, steps = 6, 3
    for desc, counts in ((dense, {"1": batch}), (conv, {"1": batch * 10 * 16, "4": batch * 16})):
        masks = DropoutMasks(0)
        mine, theirs = backend_minidl.Runner(desc, "float64", masks), backend_keras.Runner(desc, "float64", masks)
        backend_keras.set_weights(theirs.model, backend_minidl.get_weights(mine.model))
        rng = np.random.default_rng(1)
        for _ in range(steps):
            x, y = rng.uniform(-1, 1, (batch, 10, 16)), (rng.random((batch, 6)) < 0.2).astype(np.float64)
            loss_a, out_a, grad_a = mine.step(x, y)
            loss_b, out_b, grad_b = theirs.step(x, y)
            assert abs(loss_a - loss_b) <= 1e-12 * abs(loss_a)
            assert max(relative_difference(a, b) for a, b in zip(out_a, out_b, strict=True)) <= 1e-12
            # over all gradients at once: a bias just before a batchnorm has a gradient of 0 (rounding noise)
            assert relative_difference(np.concatenate([grad_b[k].ravel() for k in grad_a]),
                                       np.concatenate([g.ravel() for g in grad_a.values()])) <= 1e-12
        a, b = backend_minidl.get_weights(mine.model), backend_keras.get_weights(theirs.model)
        same = [k for k in a if not k.endswith("running_var")]
        assert relative_difference(np.concatenate([b[k].ravel() for k in same]),
                                   np.concatenate([a[k].ravel() for k in same])) <= 1e-12
        for layer, n in counts.items():
            # running_var_T = 0.9^T + sum_t 0.1 * 0.9^(T-t) * var_t, var_t unbiased in minidl, biased in Keras
            ones = 0.9 ** steps
            key = f"{layer}.norm.running_var"
            np.testing.assert_allclose(a[key] - ones, (b[key] - ones) * n / (n - 1), rtol=1e-11)
            assert int(b[f"{layer}.norm.num_batches_tracked"]) == int(a[f"{layer}.norm.num_batches_tracked"]) == steps


def test_gelu_and_leaky_relu_float64_rounding_in_tensorflow() -> None:
    """TensorFlow's gelu casts 1/sqrt(2), its leaky_relu the slope 0.01, through float32 (nothing in float32)."""
    desc = small([{"type": "fc", "units": 12, "activation": "gelu"},
                  {"type": "residual", "units": 12, "activation": "gelu"},
                  {"type": "residual", "units": 8, "depth": 1, "activation": "leaky_relu"}],
                 optimizer={"type": "sgd_momentum", "lr": 0.1, "momentum": 0.5})
    report = parity(desc, against="keras", steps=3, dtype="float64", batch=6)
    check(report, tolerance=1e-7)  # measured: outputs 4e-9, gradients 2e-8
    check(parity(desc, against="keras", steps=3, dtype="float32", batch=6), tolerance=1e-4)


# ---------------------------------------------------------------------------------- measured optimizer differences
def test_optimizer_differences_are_what_the_docs_say() -> None:
    """The optimizer-path differences: zero with exact settings, then each one alone (docs/keras.md)."""
    base = small([{"type": "fc", "units": 32}, {"type": "residual", "units": 32}])
    two_steps = {}
    for label, optimizer in {"adam exact": {"type": "adam", "betas": BETAS, "eps": TINY},
                             "adam eps": {"type": "adam", "betas": BETAS},
                             "adam betas cast": {"type": "adam", "eps": TINY},
                             "rmsprop eps": {"type": "rmsprop", "alpha": 0.9990234375},
                             "sgd momentum cast": {"type": "sgd_momentum", "momentum": 0.9}}.items():
        report = parity({**base, "optimizer": optimizer}, against="keras", steps=2, dtype="float64", batch=8)
        two_steps[label] = max(r.param or 0.0 for r in report.rows)
    assert two_steps["adam exact"] <= 1e-13
    # measured (fc 32, residual 32, batch 8, 2 steps, float64): parameters after the second step
    assert 1e-8 < two_steps["adam betas cast"] < 1e-5      # 1.7e-7: beta2 = 0.999 cast to float32 (1.3e-5 in 1 - beta2)
    assert 1e-4 < two_steps["adam eps"] < 1e-1             # 4.7e-3: Keras' eps acts as eps / sqrt(1 - beta2^t)
    assert two_steps["rmsprop eps"] > 1e-1                 # 0.66: eps inside the sqrt, where (1 - alpha) g^2 is tiny
    assert 1e-11 < two_steps["sgd momentum cast"] < 1e-8   # 1.2e-10: momentum 0.9 cast to float32 (2.6e-8)
