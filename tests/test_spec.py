"""Model descriptions: loading, validation messages, shape inference, building, and parity with PyTorch."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl.spec import SpecError, build, copy_weights, load, parity, reference
from minidl.spec.masks import DropoutMasks
from minidl.spec.parity import KINK, kinks

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "experiments" / "models").glob("*.toml"))
PAPER = ["fc", "residual", "conv"]


def small(layers: list[dict], **sections) -> dict:
    """A small description: clips of 10 x 16 values, 12 classes."""
    return {"name": "small", "input": {"shape": [10, 16]}, "layers": layers, "output": {"units": 12}, **sections}


# Every layer type, both losses, all three optimizers, L2 and the normal init, in four small models.
COVERAGE = {
    "dense": small([{"type": "fc", "units": 32, "dropout": 0.25},
                    {"type": "batchnorm"},
                    {"type": "fc", "units": 24, "activation": "tanh"},
                    {"type": "residual", "units": 24, "depth": 3, "activation": "gelu", "dropout": 0.1},
                    {"type": "residual", "units": 16, "depth": 1, "activation": "leaky_relu"},
                    {"type": "activation", "activation": "sigmoid"},
                    {"type": "dropout", "rate": 0.5}],
                   loss={"type": "mse"}, optimizer={"type": "rmsprop", "lr": 0.001, "centered": True, "momentum": 0.5},
                   regularization={"l2": 1e-3}, init={"scheme": "normal", "weight_scale": 0.1}),
    "conv1d": small([{"type": "conv1d", "channels": 8, "kernel": 3},
                     {"type": "batchnorm"},
                     {"type": "conv1d", "channels": 6, "kernel": 2, "stride": 2, "padding": 1, "activation": "tanh",
                      "dropout": 0.2},
                     {"type": "dropout", "rate": 0.3},
                     {"type": "pool", "op": "max", "over": "time"},
                     {"type": "fc", "units": 10, "activation": "none"}],
                    optimizer={"type": "sgd_momentum", "lr": 0.1, "nesterov": True}),
    "conv2d": small([{"type": "conv2d", "channels": 4, "kernel": [3, 5]},
                     {"type": "batchnorm"},
                     {"type": "conv2d", "channels": 3, "kernel": 3, "stride": [1, 2], "padding": 0,
                      "activation": "sigmoid"},
                     {"type": "pool", "op": "max", "over": "time"},
                     {"type": "conv1d", "channels": 5, "kernel": 3, "padding": "valid"},
                     {"type": "pool", "op": "mean", "over": "all"}],
                    optimizer={"type": "adam", "lr": 0.01, "amsgrad": True, "betas": [0.8, 0.99]},
                    regularization={"l2": 0.01}),
    "frames": small([{"type": "frame_fc", "units": 16, "dropout": 0.2},
                     {"type": "frame_fc", "units": 12, "activation": "tanh"},
                     {"type": "attention_pool", "units": 10}],
                    optimizer={"type": "adam", "lr": 0.01}),
    "reshapes": small([{"type": "pool", "op": "mean", "over": "all"}, {"type": "fc", "units": 8}],
                      init={"scheme": "normal", "weight_scale": 0.5}),
    "flatten": small([{"type": "conv2d", "channels": 2, "kernel": 3, "stride": 2, "padding": "valid"},
                      {"type": "flatten"}, {"type": "fc", "units": 8, "activation": "relu"}]),
}


# ---------------------------------------------------------------------------------- the shipped files
@pytest.mark.parametrize("name", PAPER)
def test_the_paper_models_are_shipped(name):
    assert ROOT / "experiments" / "models" / f"{name}.toml" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_descriptions_load_build_and_summarise(path):
    desc = load(path)
    model, loss_fn, optimizer = build(desc)
    assert sum(p.numel() for p in model.parameters()) == sum(desc.params)
    summary = desc.summary()
    assert f"total parameters: {sum(desc.params):,}" in summary
    assert str(desc.shapes[-1]) == "(527,)" and desc.output.units == 527


def test_the_paper_models_have_the_papers_structure():
    fc, residual, conv = (load(ROOT / "experiments" / "models" / f"{n}.toml") for n in PAPER)
    assert [str(s) for s in fc.shapes] == ["(1024,)", "(1024,)", "(527,)"] and sum(fc.params) == 2_901_519
    assert [layer.type for layer in residual.layers] == ["fc", "residual", "residual"]
    assert sum(residual.params) == 6_050_319
    assert [str(s) for s in conv.shapes] == ["(256, 10)", "(256, 10)", "(256,)", "(527,)"]


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shipped_descriptions_pass_parity(path, dtype):
    report = parity(load(path), steps=20, dtype=dtype, batch=32)
    assert report.passed, report.table()
    assert report.rows[-1].index == "output"
    assert len(report.losses) == (20 if report.kink is None else report.kink.step)
    if dtype == "float32" and (report.kink is None or report.kink.step > 1):  # PyTorch's own float32 vs float64
        assert all(r.drift is not None and r.drift > 0 for r in report.rows if r.param is not None)


def test_a_relu_input_within_rounding_of_zero_is_a_kink_and_a_real_difference_is_not():
    a = np.array([[0.0, 1.0, -2.0], [3.0, 0.0, 0.5]])
    near = a.copy()
    near[0, 0] = 2e-9                    # the same unit, on the other side of 0 by rounding
    assert kinks(a, a) == (0, 0.0)
    count, size = kinks(a, near)
    assert count == 1 and size == pytest.approx(2e-9 / 3.0) and size <= KINK
    far = a.copy()
    far[1, 1] = 0.25                     # a unit that really differs: not a kink, the comparison goes on
    assert kinks(a, far)[1] > KINK


# ---------------------------------------------------------------------------------- every layer type
@pytest.mark.parametrize("name", COVERAGE)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_layer_loss_and_optimizer_passes_parity(name, dtype):
    report = parity(COVERAGE[name], steps=20, dtype=dtype, batch=32)
    assert report.passed, report.table()
    limit = 1e-9 if dtype == "float64" else 1e-4
    assert report.worst <= limit


def test_coverage_includes_every_type():
    descs = [load(d) for d in COVERAGE.values()]
    assert {layer.type for d in descs for layer in d.layers} == set(minidl.spec.Layer.registry)
    assert {d.loss.type for d in descs} == {"sigmoid_cross_entropy", "mse"}
    assert {d.optimizer.type for d in descs} == {"adam", "rmsprop", "sgd_momentum"}
    assert any(d.regularization.l2 > 0 for d in descs) and any(d.init.scheme == "normal" for d in descs)


def test_parity_fails_on_a_real_difference():
    """A check that cannot fail is no check: tamper with one framework's weights after the copy."""
    report = parity(COVERAGE["reshapes"], steps=2, dtype="float64", batch=4, tolerance=0.0)
    assert not report.passed and "FAIL" in report.table()
    desc = load(COVERAGE["reshapes"])
    mine, _, _ = build(desc, dtype="float64")
    theirs, _, _ = build(desc, backend="torch", dtype="float64")
    copy_weights(mine, theirs)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 10, 16))
    import torch  # a test dependency
    with torch.no_grad():
        theirs[1].fc.weight[0, 0] += 1e-6
        out = theirs(torch.from_numpy(x)).numpy()
    assert np.abs(mine(minidl.tensor(x)).detach().numpy() - out).max() > 1e-9


def test_dropout_masks_are_shared_and_have_the_rate():
    masks = DropoutMasks(seed=3)
    a = masks(1, (1000, 50), 0.3)
    assert np.array_equal(a, masks(1, (1000, 50), 0.3))
    assert not np.array_equal(a, masks(2, (1000, 50), 0.3))
    masks.step = 1
    assert not np.array_equal(a, masks(1, (1000, 50), 0.3))
    assert abs((a == 0).mean() - 0.3) < 0.01 and np.allclose(a[a > 0], 1 / 0.7)


def test_a_model_with_dropout_is_compared_in_training_mode():
    """Without shared masks the two frameworks' dropout would differ; with them the outputs agree."""
    report = parity(small([{"type": "fc", "units": 64, "dropout": 0.5}]), steps=3, batch=8)
    assert report.passed
    assert report.rows[0].output < 1e-12  # identical masks, so identical outputs, in training mode


# ---------------------------------------------------------------------------------- format
def test_defaults_round_trip_and_json(tmp_path):
    desc = load(ROOT / "experiments" / "models" / "fc.toml")
    assert load(desc.to_dict()) == desc
    path = tmp_path / "fc.json"
    path.write_text(json.dumps(desc.to_dict()))
    assert load(path) == desc
    assert desc.optimizer.betas == (0.9, 0.999) and desc.init.scheme == "default"


def test_replace_revalidates():
    desc = load(ROOT / "experiments" / "models" / "fc.toml")
    changed = desc.replace({"optimizer.lr": 0.01, "layers[0].units": 512, "training.epochs": 3})
    assert (changed.optimizer.lr, changed.layers[0].units, changed.training.epochs) == (0.01, 512, 3)
    assert changed.params[0] == 1280 * 512 + 512 and desc.layers[0].units == 1024
    with pytest.raises(SpecError, match=r"layers\[0\]\.units: -1 is outside"):
        desc.replace({"layers[0].units": -1})
    with pytest.raises(SpecError, match=r"layers\[7\]\.units: no such field"):
        desc.replace({"layers[7].units": 3})


def test_descriptions_are_immutable():
    desc = load(ROOT / "experiments" / "models" / "fc.toml")
    with pytest.raises(AttributeError):
        desc.layers[0].units = 3
    with pytest.raises(AttributeError):
        desc.name = "x"


@pytest.mark.parametrize("page", ["docs/spec.md", "README.md"])
def test_reference_table_is_in_the_docs(page):
    assert reference() in (ROOT / page).read_text(), f"{page} is stale: paste the output of `minidl spec keys`"


def test_reference_lists_every_key():
    table = reference()
    for cls in [*minidl.spec.Layer.registry.values()]:
        assert f'type = "{cls.type}"' in table


BAD = [
    ({"layers": [{"type": "dense", "units": 3}]}, r"layers\[0\]\.type: unknown layer type 'dense'; expected one of fc"),
    ({"layers": [{"units": 3}]}, r"layers\[0\]\.type: missing"),
    ({"layers": [{"type": "fc"}]}, r"layers\[0\]\.units: missing; output features"),
    ({"layers": [{"type": "fc", "units": 0}]}, r"layers\[0\]\.units: 0 is outside \[1, inf\]"),
    ({"layers": [{"type": "fc", "units": 1.5}]}, r"layers\[0\]\.units: expected an integer, got 1.5"),
    ({"layers": [{"type": "fc", "units": True}]}, r"layers\[0\]\.units: expected an integer, got True"),
    ({"layers": [{"type": "fc", "units": 8, "dropout": 1.0}]}, r"layers\[0\]\.dropout: 1.0 is outside \[0.0, 1.0\)"),
    ({"layers": [{"type": "dropout", "rate": -0.1}]}, r"layers\[0\]\.rate: -0.1 is outside \[0.0, 1.0\)"),
    ({"layers": [{"type": "fc", "units": 8}, {"type": "conv1d", "channels": 4, "kernel": 3}]},
     r"layers\[1\]: a 'conv1d' layer cannot take a flat input of shape \(8,\); it takes clip or seq inputs "
     r"\(a convolution cannot follow a flat output"),
    ({"layers": [{"type": "flatten"}, {"type": "conv2d", "channels": 4, "kernel": 3}]},
     r"layers\[1\]: a 'conv2d' layer cannot take a flat input of shape \(1280,\)"),
    ({"layers": [{"type": "conv1d", "channels": 4, "kernel": 3}, {"type": "conv2d", "channels": 4, "kernel": 3}]},
     r"layers\[1\]: a 'conv2d' layer cannot take a seq input of shape \(4, 10\)"),
    ({"layers": [{"type": "conv1d", "channels": 4, "kernel": 12, "padding": "valid"}]},
     r"layers\[0\]\.kernel: kernel 12 does not fit the input \(10, 128\) \(length 10, padding 'valid'\)"),
    ({"layers": [{"type": "conv1d", "channels": 4, "kernel": 3, "stride": 2}]},
     r"layers\[0\]\.padding: padding 'same' needs stride 1, got stride 2"),
    ({"layers": [{"type": "conv1d", "channels": 4, "kernel": 3, "padding": "full"}]},
     r"layers\[0\]\.padding: 'full' is not one of 'same', 'valid'"),
    ({"layers": [{"type": "conv2d", "channels": 4, "kernel": [3, 3, 3]}]},
     r"layers\[0\]\.kernel: expected an integer or a list of two, got \[3, 3, 3\]"),
    ({"layers": [{"type": "fc", "units": 8}, {"type": "pool"}]}, r"layers\[1\]: a 'pool' layer cannot take a flat"),
    ({"layers": [{"type": "batchnorm"}]}, r"layers\[0\]: a 'batchnorm' layer cannot take a clip input"),
    ({"layers": [{"type": "fc", "units": 8, "activation": "swish"}]},
     r"layers\[0\]\.activation: 'swish' is not one of 'relu', 'sigmoid', 'tanh', 'leaky_relu', 'gelu', 'none'"),
    ({"layers": [{"type": "fc", "unit": 8}]},
     r"layers\[0\]\.unit: unknown key; a 'fc' layer takes units, activation, dropout"),
    ({"layers": {"type": "fc"}}, r"layers: expected a list of layer tables"),
    ({"layers": [{"type": "fc", "units": 8}, {"type": "frame_fc", "units": 4}]},
     r"layers\[1\]: a 'frame_fc' layer cannot take a flat input of shape \(8,\); it takes clip inputs"),
    ({"layers": [{"type": "conv1d", "channels": 4, "kernel": 3}, {"type": "attention_pool", "units": 4}]},
     r"layers\[1\]: a 'attention_pool' layer cannot take a seq input"),
    ({"input": {"scale": "unit"}}, r"input\.scale: 'unit' is not one of 'centered', 'youtube8m', 'none'"),
    ({"input": {"shape": [2, 10, 128]}},
     r"input\.shape: expected \[frames, values\] or \[features\], got \[2, 10, 128\]"),
    ({"input": {"shape": [10, 0]}}, r"input\.shape\[1\]: 0 is outside \[1, inf\]"),
    ({"optimizer": {"type": "adam", "lr": math.nan}}, r"optimizer\.lr: expected a finite number, got nan"),
    ({"optimizer": {"type": "adam", "lr": 0}}, r"optimizer\.lr: 0.0 is outside \(0.0, inf\]"),
    ({"optimizer": {"type": "adagrad"}}, r"optimizer\.type: unknown optimizer type 'adagrad'; expected one of adam"),
    ({"optimizer": {"type": "adam", "momentum": 0.9}},
     r"optimizer\.momentum: unknown key; a 'adam' optimizer takes lr, betas, eps, amsgrad"),
    ({"optimizer": {"type": "adam", "betas": [0.9, 0.99, 0.9]}}, r"optimizer\.betas: expected two numbers"),
    ({"optimizer": {"type": "adam", "betas": [0.9, 1.0]}}, r"optimizer\.betas\[1\]: 1.0 is outside \[0.0, 1.0\)"),
    ({"optimizer": {"type": "sgd_momentum", "momentum": 0.0, "nesterov": True}},
     r"optimizer\.nesterov: Nesterov momentum needs momentum > 0 and dampening 0"),
    ({"loss": {"type": "hinge"}}, r"loss\.type: 'hinge' is not one of 'sigmoid_cross_entropy', 'mse'"),
    ({"regularization": {"l2": -1}}, r"regularization\.l2: -1.0 is outside \[0.0, inf\]"),
    ({"init": {"scheme": "normal", "weight_scale": 0}}, r"init\.weight_scale: 0.0 is outside \(0.0, inf\]"),
    ({"training": {"epochs": 0}}, r"training\.epochs: 0 is outside \[1, inf\]"),
    ({"training": {"batch_size": "big"}}, r"training\.batch_size: expected an integer, got 'big'"),
    ({"trainer": {}}, r"trainer: unknown section; a description has"),
    ({"name": ""}, r"name: expected a non-empty string"),
]


@pytest.mark.parametrize("data, message", BAD, ids=[m[:40] for _, m in BAD])
def test_invalid_descriptions_name_the_field_and_value(data, message):
    with pytest.raises(SpecError, match=message):
        load(data)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such description file"):
        load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[input\nshape = 3")
    with pytest.raises(SpecError, match="bad.toml: not valid TOML"):
        load(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[1, 2]")
    with pytest.raises(SpecError, match="a description is a table of sections, got list"):
        load(bad_json)


# ---------------------------------------------------------------------------------- command line
def minidl_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minidl", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_spec_show_prints_the_summary():
    result = minidl_cli("spec", "show", "experiments/models/conv.toml")
    assert result.returncode == 0, result.stderr
    assert "conv1d(channels=256, kernel=3)" in result.stdout and "(256, 10)" in result.stdout
    assert "total parameters: 430,863" in result.stdout


def test_cli_spec_show_reports_an_invalid_file_in_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[layers]]\ntype = "fc"\nunits = -4\n')
    result = minidl_cli("spec", "show", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == "minidl: error: layers[0].units: -4 is outside [1, inf]"


def test_cli_parity_exit_status(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(small([{"type": "fc", "units": 8}])))
    passed = minidl_cli("parity", str(path), "--steps", "3", "--batch", "4")
    assert passed.returncode == 0, passed.stderr
    assert "| output | output(units=12) |" in passed.stdout and "PASS" in passed.stdout
    failed = minidl_cli("parity", str(path), "--steps", "3", "--batch", "4", "--tolerance", "0")
    assert failed.returncode == 1 and "FAIL" in failed.stdout
