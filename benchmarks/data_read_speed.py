"""Measure minidl.data: TFRecord and HDF5 read speed, stand-in generation, memory of a 2M-clip epoch.

    PYTHONPATH=. python benchmarks/data_read_speed.py [--tfrecord-clips 20000] [--big 2000000] [--dir /tmp]

Each measurement runs in a fresh subprocess, so its peak resident memory (VmHWM) is its own;
"extra" memory is that peak minus the resident size just before the measured loop.  Large
temporary files are deleted at the end.  The embeddings are SYNTHETIC (minidl's stand-in); read
speeds do not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_mb() -> float:
    """Current resident set size."""
    return status_mb("VmRSS")


def peak_mb() -> float:
    """Peak resident set size of this process (VmHWM; unlike ru_maxrss, not inherited from the parent)."""
    return status_mb("VmHWM")


def write_tfrecords(folder: Path, clips: int, per_file: int = 1000) -> None:
    """The stand-in's eval embeddings as a TFRecord split, written by the independent ``tfrecord`` package."""
    from tfrecord.writer import TFRecordWriter

    from minidl.data.standin import generate_split

    source = generate_split("eval")
    folder.mkdir(parents=True)
    for start in range(0, clips, per_file):
        writer = TFRecordWriter(str(folder / f"part{start // per_file:05d}.tfrecord"))
        for i in range(start, min(start + per_file, clips)):
            row = i % len(source)
            frames = source.x[row, :source.n_frames[row]]
            context = {"video_id": (f"v{i:010d}".encode(), "byte"), "start_time_seconds": (0.0, "float"),
                       "end_time_seconds": (10.0, "float"), "labels": (np.flatnonzero(source.y[row]).tolist(), "int")}
            writer.write(context, {"audio_embedding": ([f.tobytes() for f in frames], "byte")})
        writer.close()


def phase_tfrecord(folder: str) -> dict:
    from minidl.data.tfrecord import TFRecordClips

    reader = TFRecordClips(folder)
    start = time.perf_counter()
    n = sum(len(c) for c in reader.chunks(8192))
    seconds = time.perf_counter() - start
    return {"clips": n, "seconds": seconds, "clips_per_s": n / seconds, "padded": reader.padded}


def phase_generate(path: str, size: int) -> dict:
    from minidl.data.standin import generate_big

    before = rss_mb()
    start = time.perf_counter()
    generate_big(path, size, progress=False)
    return {"clips": size, "seconds": time.perf_counter() - start, "extra_peak_mb": peak_mb() - before,
            "file_gb": Path(path).stat().st_size / 1e9}


def phase_h5_sequential(path: str) -> dict:
    from minidl.data.hdf5 import H5Clips

    with H5Clips(path) as h5:
        before = rss_mb()
        start = time.perf_counter()
        n = sum(len(c) for c in h5.chunks(65536))
        return {"clips": n, "seconds": time.perf_counter() - start, "clips_per_s": n / (time.perf_counter() - start),
                "extra_peak_mb": peak_mb() - before}


def phase_epoch(path: str, batch: int, balanced: int) -> dict:
    """One shuffled epoch (float32 batches) or, with ``balanced`` > 0, that many balanced draws."""
    from minidl.data.hdf5 import H5Clips
    from minidl.data.loader import BalancedSampler, DataLoader, source_labels

    with H5Clips(path) as h5:
        before = rss_mb()
        start = time.perf_counter()
        sampler = BalancedSampler(source_labels(h5), balanced, seed=0) if balanced else None
        label_seconds = time.perf_counter() - start
        loader = DataLoader(h5, batch_size=batch, shuffle=True, sampler=sampler, flatten=True)
        n = sum(len(x) for x, _ in loader)
        seconds = time.perf_counter() - start
        return {"clips": n, "seconds": seconds, "clips_per_s": n / seconds, "label_pass_seconds": label_seconds,
                "extra_peak_mb": peak_mb() - before, "rss_before_mb": before}


def run_phase(*args: str) -> dict:
    """Run ``python this_file --phase ...`` and return its JSON result."""
    out = subprocess.run([sys.executable, __file__, "--phase", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tfrecord-clips", type=int, default=20000)
    parser.add_argument("--big", type=int, default=2_000_000)
    parser.add_argument("--balanced", type=int, default=200_000, help="balanced draws to time over the big file")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="where to put the temporary files")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        phases = {"tfrecord": phase_tfrecord, "generate": lambda p, s: phase_generate(p, int(s)),
                  "h5": phase_h5_sequential, "epoch": lambda p, b, n: phase_epoch(p, int(b), int(n))}
        print(json.dumps(phases[name](*rest)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="minidl-data-bench-", dir=args.dir))
    try:
        write_tfrecords(tmp / "tfr", args.tfrecord_clips)
        results = {"tfrecord_read": run_phase("tfrecord", str(tmp / "tfr")),
                   "generate_big": run_phase("generate", str(tmp / "big.h5"), str(args.big)),
                   "h5_sequential": run_phase("h5", str(tmp / "big.h5")),
                   "h5_shuffled_epoch": run_phase("epoch", str(tmp / "big.h5"), str(args.batch), "0"),
                   "h5_balanced": run_phase("epoch", str(tmp / "big.h5"), str(args.batch), str(args.balanced))}
    finally:
        shutil.rmtree(tmp)
    print("SYNTHETIC features (minidl's stand-in); timings on this machine:")
    for name, result in results.items():
        print(f"{name:18s} " + "  ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v:,}"
                                          for k, v in result.items()))


if __name__ == "__main__":
    main()
