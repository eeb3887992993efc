"""Speed choices of performance round two, each timed against its alternative in one process.

1. **The convolution's two layouts** (issue 15's first idea; kept, chosen by shape).  The
   channels-first layout lays im2col's columns out as (C*K, N*P): one row per (channel, kernel
   offset), so every copy moves runs along the output's last spatial dimension (10 values for the
   paper's clips).  The channels-last layout lays them out as (N*P, C*K), one row per output
   position with the channel axis last, so every copy moves runs of C/G values (128 or 256 for
   the paper).  ``Convolution`` takes channels last when 2P <= C/G < 1024 (``channels_last_pays``);
   this times both, forced, on bench_conv's single-layer cases, on wide conv1d layers over the
   paper's 10 frames (512-2,048 channels, where the products start to dominate) and on the
   paper's conv model (training step with Adam, and inference).
2. **Adam run in blocks** (issue 15's second idea: fewer passes over memory; not kept).  minidl's
   in-place Adam makes about twelve NumPy passes over each whole parameter;
   :func:`blocked_adam_step` makes the same passes over blocks of ``--block`` elements (so a
   block's arrays stay in the 2 MiB L2 cache between passes), on one thread or split over two
   (NumPy releases the GIL inside a pass).  Compared alone on the fc model's parameters and
   inside the fc model's training step, after checking that the parameters come out bit for bit
   the same.

Both layouts are tested equal (float64, 1e-12) in ``tests/test_fast_paths.py``.  Each figure is
the median of alternated runs in one process (``timing.alternate``), as the ratio to the
reference contender (below 1: faster), with ``--pause`` seconds of sleep before each run.

    python benchmarks/alternatives.py                # about 3 minutes on 2 cores
    python benchmarks/alternatives.py --pause 0      # back to back, as a training loop runs
    python benchmarks/alternatives.py --tiny         # seconds: proves the script works (CI)

A script, not a test: timings vary by machine and load (5-10% between runs on this machine, more
with the pause).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from bench_conv import CASES
from timing import COOLDOWN, alternate

import minidl
import minidl.functional as F
from minidl import nn
from minidl.ops.conv import Convolution, channels_last_pays
from minidl.optim import Adam

Array = np.ndarray


# ---------------------------------------------------------- 1. the two layouts of the convolution
#: channel counts of the wide cases
WIDE = (512, 768, 1024, 2048)


def forced_layer(x: Array, w: Array, b: Array, gy: Array, kw: dict[str, Any], input_grad: bool
                 ) -> Callable[[bool], Callable[[], None]]:
    """The layer's forward + backward (upstream gradient ``gy``) in a forced layout, for each layout."""
    def make(channels_last: bool) -> Callable[[], None]:
        def run() -> None:
            tensors = [minidl.tensor(x, requires_grad=input_grad), minidl.tensor(w, requires_grad=True),
                       minidl.tensor(b, requires_grad=True)]
            Convolution.apply(*tensors, **kw, channels_last=channels_last).backward(minidl.tensor(gy))
        return run
    return make


def conv_layer_cases(tiny: bool) -> list[tuple[str, bool, Callable[[bool], Callable[[], None]]]]:
    """bench_conv's single-layer cases: (label, the layout ``channels_last_pays`` picks, the layer's
    forward + backward in a forced layout)."""
    rng, cases = np.random.default_rng(0), []
    for label, dims, shape, layers, input_grad in CASES:
        if len(layers) != 1:
            continue
        (c_in, c_out, k, kw), = layers
        stride, pad = (kw.get("stride", 1),) * dims, kw.get("padding", 0)
        kw = {"stride": stride, "padding": pad if isinstance(pad, str) else (pad,) * dims, "dilation": (1,) * dims,
              "groups": kw.get("groups", 1)}
        x = rng.standard_normal((4 if tiny else shape[0], *shape[1:]), dtype=np.float32)
        w = rng.standard_normal((c_out, c_in // kw["groups"], *(k,) * dims), dtype=np.float32) * 0.05
        b = rng.standard_normal(c_out, dtype=np.float32)
        with minidl.no_grad():
            out_shape = tuple(Convolution.apply(minidl.tensor(x), minidl.tensor(w), None, **kw).shape)
        gy = rng.standard_normal(out_shape, dtype=np.float32)
        cases.append((label, channels_last_pays(w.shape[1], math.prod(out_shape[2:])),
                      forced_layer(x, w, b, gy, kw, input_grad)))
    return cases


def wide_layer_cases(tiny: bool) -> list[tuple[str, bool, Callable[[bool], Callable[[], None]]]]:
    """Conv1d C -> C, kernel 3, padding 1, over the paper's 10 frames at batch 256, for C where the
    products start to outweigh the copies: as :func:`conv_layer_cases`."""
    rng, cases, batch = np.random.default_rng(1), [], 4 if tiny else 256
    kw = {"stride": (1,), "padding": (1,), "dilation": (1,), "groups": 1}
    for channels in (16, 32) if tiny else WIDE:
        x = rng.standard_normal((batch, channels, 10), dtype=np.float32)
        w = rng.standard_normal((channels, channels, 3), dtype=np.float32) * 0.01
        b = rng.standard_normal(channels, dtype=np.float32)
        gy = rng.standard_normal(x.shape, dtype=np.float32)
        cases.append((f"conv1d {channels}->{channels} L10 k3 p1, batch {batch}", channels_last_pays(channels, 10),
                      forced_layer(x, w, b, gy, kw, True)))
    return cases


def paper_conv_model(channels_last: bool, tiny: bool, train: bool) -> Callable[[], None]:
    """The paper's conv model (two Conv1d 256 k3 'same', ReLU, mean over time, 527 outputs) in a
    forced layout: one training step (BCE with logits, Adam) or one inference batch."""
    minidl.manual_seed(0)
    rng, channels, batch = np.random.default_rng(0), 16 if tiny else 256, 8 if tiny else 256
    convs = [nn.Conv1d(128, channels, 3, padding=1), nn.Conv1d(channels, channels, 3, padding=1)]
    out = nn.Linear(channels, 527)
    params = [p for m in (*convs, out) for p in m.parameters()]
    opt = minidl.optim.Adam(params)
    x = minidl.tensor(rng.standard_normal((batch, 10, 128), dtype=np.float32))
    y = minidl.tensor((rng.random((batch, 527)) < 0.02).astype(np.float32))
    kw = {"stride": (1,), "padding": (1,), "dilation": (1,), "groups": 1, "channels_last": channels_last}

    def forward() -> Any:
        h = x.transpose(1, 2)  # a clip read as 128 channels over 10 frames (NCW)
        for conv in convs:
            h = F.relu(Convolution.apply(h, conv.weight, conv.bias, **kw))
        return out(h.mean(2))

    def step() -> None:
        if not train:
            with minidl.no_grad():
                forward()
            return
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(forward(), y).backward()
        opt.step()
    return step


# ----------------------------------------------------------------------------- 2. blocked Adam
def adam_pass(p: Array, g: Array, m: Array, v: Array, s: Array, step: int, group: dict[str, Any]) -> None:
    """minidl's in-place Adam update on arrays (blocks of a parameter and its state): the kept code
    itself, ``Adam._update_moments`` then ``Adam._apply_step``, on tensors that wrap the blocks."""
    moments = {"exp_avg": minidl.Tensor(m), "exp_avg_sq": minidl.Tensor(v)}
    Adam._apply_step(minidl.Tensor(p), m, Adam._update_moments(g, moments, group, s), step, group, s)


#: minidl's Adam step, over whole arrays
KEPT = "whole arrays (kept)"


def blocked_adam_step(opt: minidl.optim.Adam, block: int, pool: ThreadPoolExecutor | None) -> None:
    """One ``opt.step()`` with :func:`adam_pass` over blocks of ``block`` elements, on the
    calling thread or, with ``pool``, half of the blocks on each of its two threads."""
    group, jobs = opt.param_groups[0], []
    for p in group["params"]:
        state = opt.state[p]
        opt._init_state(p, state, group)
        arrays = [a.reshape(-1) for a in (p.array, p.grad.array, state["exp_avg"].array,
                                          state["exp_avg_sq"].array, opt._buffer(p))]
        jobs += [([a[i:i + block] for a in arrays], state["step"]) for i in range(0, arrays[0].size, block)]

    def work(part: list) -> None:
        for arrays, step in part:
            adam_pass(*arrays, step, group)
    if pool is None:
        work(jobs)
    else:
        list(pool.map(work, [jobs[::2], jobs[1::2]]))


def fc_model(width: int) -> tuple[nn.Module, minidl.optim.Adam]:
    """The paper's fc model (1280-width-width-527) and its Adam, seeded."""
    minidl.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(1280, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, 527))
    return model, minidl.optim.Adam(model.parameters())


def adam_runs(tiny: bool, block: int, pool: ThreadPoolExecutor, with_model: bool
              ) -> tuple[dict[str, Callable[[], None]], dict[str, nn.Module]]:
    """The kept step and the two blocked ones, each on its own copy of the fc model, alone
    (``with_model`` False: the gradients of one batch, reused) or after the model's forward and
    backward on a batch (one training step); also the models, by contender."""
    rng, width, batch = np.random.default_rng(0), 64 if tiny else 1024, 8 if tiny else 256
    x = minidl.tensor(rng.standard_normal((batch, 10, 128), dtype=np.float32))
    y = minidl.tensor((rng.random((batch, 527)) < 0.02).astype(np.float32))
    steps = {KEPT: lambda opt: opt.step(), "blocks, 1 thread": lambda opt: blocked_adam_step(opt, block, None),
             "blocks, 2 threads": lambda opt: blocked_adam_step(opt, block, pool)}
    runs, models = {}, {}
    for name, update in steps.items():
        model, opt = fc_model(width)
        F.binary_cross_entropy_with_logits(model(x), y).backward()

        def run(model: nn.Module = model, opt: minidl.optim.Adam = opt, update: Callable = update) -> None:
            if with_model:
                opt.zero_grad()
                F.binary_cross_entropy_with_logits(model(x), y).backward()
            update(opt)
        runs[name], models[name] = run, model
    return runs, models


def check_adam(pool: ThreadPoolExecutor) -> None:
    """Three training steps with each blocked form leave the same parameters, bit for bit, as the kept step
    (blocks of 1,000 elements, so that every parameter is split, with a shorter last block)."""
    runs, models = adam_runs(True, 1000, pool, with_model=True)
    for run in runs.values():
        for _ in range(3):
            run()
    finals = [[p.array for p in model.parameters()] for model in models.values()]
    if not all(np.array_equal(a, b) for other in finals[1:] for a, b in zip(finals[0], other)):
        raise AssertionError("blocked Adam differs from minidl's Adam")


# ------------------------------------------------------------------------------------- report
def ratio_rows(label: str, runs: dict[str, Callable[[], None]], repeats: int, reference: str, pause: float
               ) -> list[str]:
    """Markdown rows: each contender's median ms and its ratio to the ``reference`` contender."""
    t = alternate(runs, repeats, pause)
    return [f"| {label} | {name} | {t[name] * 1e3:.2f} | {t[name] / t[reference]:.2f} |" for name in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small shapes, one repeat: proves the script works")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--block", type=int, default=131072, help="Adam block size in elements (default 128K)")
    parser.add_argument("--pause", type=float, default=COOLDOWN, help="seconds of sleep before each timed run")
    args = parser.parse_args()
    repeats = 1 if args.tiny else args.repeats
    minidl.set_num_threads(2)
    header = ["| case | contender | ms | ratio |", "|---|---|---|---|"]

    lines = ["## 1. Convolution: channels-last columns (N*P, C*K) against channels-first ones (C*K, N*P), "
             "forward + backward", "", *header]
    for label, picked, make in conv_layer_cases(args.tiny) + wide_layer_cases(args.tiny):
        lines += ratio_rows(f"{label} (picks {'last' if picked else 'first'})",
                            {"channels last": make(True), "channels first": make(False)}, repeats,
                            "channels first", args.pause)
    for train in (True, False):
        label = f"paper conv model, {'training step' if train else 'inference batch'} (picks last)"
        lines += ratio_rows(label, {"channels last": paper_conv_model(True, args.tiny, train),
                                    "channels first": paper_conv_model(False, args.tiny, train)}, repeats,
                            "channels first", args.pause)
    print("\n".join(lines), "\n", flush=True)

    with ThreadPoolExecutor(2) as pool:
        check_adam(pool)
        print("Blocked Adam equal to the kept step, bit for bit (3 steps)\n")
        lines = [f"## 2. Adam in blocks of {args.block} elements against the kept whole-array passes", "", *header]
        for with_model in (False, True):
            label = "fc model, training step" if with_model else "fc model's parameters, Adam step alone"
            lines += ratio_rows(label, adam_runs(args.tiny, args.block, pool, with_model)[0], repeats, KEPT,
                                args.pause)
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
