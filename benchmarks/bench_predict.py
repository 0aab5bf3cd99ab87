"""Benchmark: encoding-model predictions, HRF convolution and closed-form weights.

Prints our time and memory beside the same work done in plain numpy/scipy (a
vectorised implementation of the same formulas), over a problem-size sweep:

- prediction of a 1-D Gaussian pRF + SPM HRF and of a 2-D Gaussian pRF + SPM
  HRF on a 64x64 grid, 1k / 10k / 100k voxels x 300 TRs;
- HRF convolution alone (one shared HRF, and one HRF per voxel);
- ``WeightFitter`` (least squares and ridge) for 10k / 100k voxels;
- braincoder's recorded figure (reference notes, section 4: a 1800-point grid
  of 2-D pRF + HRF predictions, 150 TRs, 0.99 s wall) beside the same
  predictions here.

Time is the best of ``--repeat`` calls after one warm-up call (the warm-up,
which includes JAX compilation, is reported as ``first``). Memory is the peak
increase of the process's resident set during the call, sampled every 2 ms
(the script re-runs itself with ``MALLOC_MMAP_THRESHOLD_`` set so that freed
buffers leave the resident set; short peaks of small calls may be missed).
Other jobs may share the CPU: the load average is printed with every row.

Usage::

    python benchmarks/bench_predict.py --quick          # smallest sizes, < 60 s
    python benchmarks/bench_predict.py --json out.json  # all sizes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil
import xarray as xr
from scipy.signal import fftconvolve

N_TIME = 300
TR = 1.5


class PeakMemory:
    """Peak RSS increase (MB) of this process while the block runs, sampled in a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._process = psutil.Process()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self.base = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.megabytes = max(self.peak - self.base, 0) / 2**20


def measure(func: Callable[[], Any], repeat: int) -> dict[str, float]:
    """First-call time, best time over ``repeat`` calls, peak memory of one call."""
    start = time.perf_counter()
    func()
    first = time.perf_counter() - start
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    with PeakMemory() as memory:
        func()
    return {"first_s": first, "best_s": best, "peak_mb": memory.megabytes}


# ----------------------------------------------------------------- numpy peers
def numpy_convolve(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Edge-padded causal convolution along time with scipy's FFT convolution."""
    n_taps = kernel.shape[0]
    padded = np.concatenate([np.repeat(x[:1], n_taps, axis=0), x])
    kernel = kernel if kernel.ndim == x.ndim else kernel[:, None]
    return fftconvolve(padded, kernel, axes=0)[n_taps:n_taps + len(x)]


def numpy_prf1d(stim: np.ndarray, pars: dict[str, np.ndarray], kernel: np.ndarray) -> np.ndarray:
    unit = np.exp(-0.5 * (stim[:, None] - pars["mu"]) ** 2 / pars["sd"] ** 2)
    return numpy_convolve(unit, kernel) * pars["amplitude"] + pars["baseline"]


def numpy_prf2d(images: np.ndarray, grid: np.ndarray, area: float, pars: dict[str, np.ndarray],
                kernel: np.ndarray, block: int = 4096) -> np.ndarray:
    flat = images.reshape(len(images), -1)
    n = len(pars["x"])
    out = np.empty((len(images), n), dtype=np.float32)
    for start in range(0, n, block):  # the (pixel, voxel) fields do not fit at once
        s = slice(start, start + block)
        d2 = (grid[:, :1] - pars["x"][s]) ** 2 + (grid[:, 1:] - pars["y"][s]) ** 2
        rf = np.exp(-0.5 * d2 / pars["sd"][s] ** 2) * (area / (pars["sd"][s] * np.sqrt(2 * np.pi)))
        out[:, s] = flat @ rf.astype(np.float32)
    return numpy_convolve(out, kernel) * pars["amplitude"] + pars["baseline"]


# --------------------------------------------------------------------- cases
def _row(case: str, size: str, ours: dict, peer: dict | None, peer_name: str = "numpy") -> dict:
    row = {"case": case, "size": size, "ours": ours, "peer": peer, "peer_name": peer_name,
           "load": os.getloadavg()[0]}
    speed = f"{peer['best_s'] / ours['best_s']:7.1f}x" if peer else "      -"
    peer_s = f"{peer['best_s']:9.4f}" if peer else "        -"
    peer_mb = f"{peer['peak_mb']:8.0f}" if peer else "       -"
    print(f"{case:<34} {size:>10} {ours['first_s']:9.3f} {ours['best_s']:9.4f} {peer_s} {speed} "
          f"{ours['peak_mb']:8.0f} {peer_mb} {row['load']:5.1f}", flush=True)
    return row


def bench_prf1d(sizes: list[int], repeat: int, rng: np.random.Generator) -> list[dict]:
    from xneuro.encoding import GaussianPRFWithHRF
    from xneuro.hrf import SPMHRFModel

    hrf = SPMHRFModel(tr=TR)
    stim = rng.uniform(0, 20, N_TIME)
    model = GaussianPRFWithHRF(paradigm=xr.DataArray(stim, dims="time"), hrf_model=hrf)
    rows = []
    for n in sizes:
        pars = {"mu": rng.uniform(0, 20, n), "sd": rng.uniform(0.5, 5, n),
                "amplitude": rng.uniform(0.5, 3, n), "baseline": rng.uniform(-1, 1, n)}
        ds = xr.Dataset({k: ("voxel", v.astype(np.float32)) for k, v in pars.items()})
        ours = measure(lambda ds=ds: model.predict(parameters=ds), repeat)
        peer = measure(lambda p=pars: numpy_prf1d(stim, p, hrf.get_hrf()), repeat)
        rows.append(_row("predict 1-D pRF + HRF", f"{n // 1000}k vox", ours, peer))
    return rows


def _bars(n_pixels: int, n_time: int) -> np.ndarray:
    from xneuro.datasets import bar_sweeps

    frames = bar_sweeps(n_pixels, bar_width=0.15)
    return np.resize(frames, (n_time, n_pixels, n_pixels)).astype(np.float32)


def bench_prf2d(sizes: list[int], repeat: int, rng: np.random.Generator) -> list[dict]:
    from xneuro.encoding import GaussianPRF2DWithHRF
    from xneuro.hrf import SPMHRFModel

    hrf = SPMHRFModel(tr=TR)
    coords = np.linspace(-5, 5, 64)
    images = _bars(64, N_TIME)
    paradigm = xr.DataArray(images, dims=("time", "y", "x"), coords={"y": coords, "x": coords})
    model = GaussianPRF2DWithHRF(paradigm=paradigm, hrf_model=hrf)
    grid = model.grid_coordinates.to_numpy()
    rows = []
    for n in sizes:
        pars = {"x": rng.uniform(-4, 4, n), "y": rng.uniform(-4, 4, n),
                "sd": rng.uniform(0.3, 2, n), "baseline": rng.uniform(-1, 1, n),
                "amplitude": rng.uniform(0.5, 3, n)}
        ds = xr.Dataset({k: ("voxel", v.astype(np.float32)) for k, v in pars.items()})
        ours = measure(lambda ds=ds: model.predict(parameters=ds), repeat)
        peer = measure(lambda p=pars: numpy_prf2d(images, grid, model.pixel_area, p,
                                                  hrf.get_hrf()), repeat)
        rows.append(_row("predict 2-D pRF 64x64 + HRF", f"{n // 1000}k vox", ours, peer))
    return rows


def bench_convolve(sizes: list[int], repeat: int, rng: np.random.Generator) -> list[dict]:
    from xneuro.hrf import SPMHRFModel, convolve

    hrf = SPMHRFModel(tr=TR, unique_hrfs=True)
    rows = []
    for n in sizes:
        x = rng.standard_normal((N_TIME, n)).astype(np.float32)
        ours = measure(lambda x=x: convolve(x, hrf), repeat)
        peer = measure(lambda x=x: numpy_convolve(x, hrf.get_hrf()), repeat)
        rows.append(_row("HRF convolve, shared", f"{n // 1000}k vox", ours, peer))
        delays = rng.uniform(4, 7, n)
        kernels = hrf.get_hrf(hrf_delay=delays).astype(np.float32)
        ours = measure(lambda x=x, d=delays: convolve(x, hrf, hrf_delay=d), repeat)
        peer = measure(lambda x=x, k=kernels: numpy_convolve(x, k), repeat)
        rows.append(_row("HRF convolve, one per voxel", f"{n // 1000}k vox", ours, peer))
    return rows


def bench_weights(sizes: list[int], repeat: int, rng: np.random.Generator) -> list[dict]:
    import pandas as pd

    from xneuro.encoding import GaussianPRF, WeightFitter

    stim = rng.uniform(0, 20, N_TIME)
    model = GaussianPRF(paradigm=stim)
    pops = pd.DataFrame({"mu": np.linspace(0, 20, 60), "sd": 1.0, "amplitude": 1.0,
                         "baseline": 0.0})
    basis = np.exp(-0.5 * (stim[:, None] - pops.mu.to_numpy()) ** 2)
    rows = []
    for n in sizes:
        data = (basis @ rng.normal(size=(60, n)) + rng.normal(size=(N_TIME, n))).astype(
            np.float32)
        bold = xr.DataArray(data, dims=("time", "voxel"))
        for alpha in (0.0, 1.0):
            ours = measure(lambda b=bold, a=alpha: WeightFitter(model, pops, b, stim).fit(a),
                           repeat)
            if alpha == 0:
                peer = measure(lambda d=data: np.linalg.lstsq(basis, d, rcond=None), repeat)
            else:
                peer = measure(lambda d=data: np.linalg.solve(
                    basis.T @ basis + np.eye(60), basis.T @ d), repeat)
            name = "WeightFitter lstsq (60 pops)" if alpha == 0 else "WeightFitter ridge (60 pops)"
            rows.append(_row(name, f"{n // 1000}k vox", ours, peer))
        chunked = bold.chunk({"voxel": max(n // 4, 1)})
        ours = measure(lambda b=chunked: WeightFitter(model, pops, b, stim).fit(1.0)
                       .compute(), repeat)
        rows.append(_row("WeightFitter ridge, dask 4 chunks", f"{n // 1000}k vox", ours, None))
    return rows


def bench_braincoder_recorded(repeat: int, rng: np.random.Generator) -> list[dict]:
    """braincoder's recorded 2-D grid stage: 1800 parameter sets, 20x20 bars, 150 TRs, HRF."""
    from xneuro.encoding import GaussianPRF2DWithHRF
    from xneuro.hrf import SPMHRFModel

    coords = np.linspace(-1, 1, 20)
    paradigm = xr.DataArray(_bars(20, 150), dims=("time", "y", "x"),
                            coords={"y": coords, "x": coords})
    model = GaussianPRF2DWithHRF(paradigm=paradigm, hrf_model=SPMHRFModel(tr=1.5))
    x, y, sd = np.meshgrid(np.linspace(-1, 1, 15), np.linspace(-1, 1, 15),
                           np.linspace(0.05, 0.8, 8), indexing="ij")
    ds = xr.Dataset({"x": ("voxel", x.ravel()), "y": ("voxel", y.ravel()),
                     "sd": ("voxel", sd.ravel()), "baseline": ("voxel", np.zeros(x.size)),
                     "amplitude": ("voxel", np.ones(x.size))})
    ours = measure(lambda: model.predict(parameters=ds), repeat)
    recorded = {"first_s": float("nan"), "best_s": 0.99, "peak_mb": float("nan")}
    return [_row("1800 2-D pRF+HRF preds, 150 TRs", "grid", ours, recorded,
                 "braincoder (recorded: fit_grid incl. correlation)")]


def _reexec_with_returning_malloc() -> None:
    """Re-run this script with glibc returning large blocks to the OS at once.

    With a fixed mmap threshold every large buffer (numpy's or XLA's) is its
    own mapping, released when freed, so the sampled RSS shows each call's
    peak instead of memory reused from earlier calls.
    """
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None and sys.platform.startswith("linux"):
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="1048576")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main(argv: list[str] | None = None) -> int:
    _reexec_with_returning_malloc()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes only (< 60 s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per case")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    import jax

    import xneuro

    rng = np.random.default_rng(0)
    prf_sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    weight_sizes = [10_000] if args.quick else [10_000, 100_000]
    print(f"xneuro {xneuro.__version__}, jax {jax.__version__} on {jax.devices()[0]}, numpy "
          f"{np.__version__}; {os.cpu_count()} CPUs; {N_TIME} TRs; float32")
    print(f"{'case':<34} {'size':>10} {'first s':>9} {'ours s':>9} {'peer s':>9} {'speedup':>8} "
          f"{'ours MB':>8} {'peer MB':>8} {'load':>5}")
    rows = []
    rows += bench_prf1d(prf_sizes, args.repeat, rng)
    rows += bench_prf2d(prf_sizes, args.repeat, rng)
    rows += bench_convolve(prf_sizes, args.repeat, rng)
    rows += bench_weights(weight_sizes, args.repeat, rng)
    rows += bench_braincoder_recorded(args.repeat, rng)
    print("peer = the same work in vectorised numpy/scipy, except the braincoder row, whose "
          "time is the one recorded in the reference notes (other machine and load)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
