"""Benchmark: encoding-model predictions, HRF convolution and closed-form weights.

Our time and memory beside the same work done in plain numpy/scipy (a
vectorised implementation of the same formulas), over a problem-size sweep
(float32, 300 TRs):

- prediction of a 1-D Gaussian pRF + SPM HRF and of a 2-D Gaussian pRF + SPM
  HRF on a 64x64 grid (peer: numpy);
- HRF convolution alone, one shared HRF and one HRF per voxel (peer: scipy's
  ``fftconvolve``);
- ``WeightFitter`` least squares and ridge, 60 populations (peer: numpy
  ``lstsq`` / ``solve``), and ridge on dask voxel chunks (on the cluster of
  ``--workers`` / ``--scheduler`` when given, else dask's threads);
- braincoder's recorded figure (reference notes, section 4: ``fit_grid`` of an
  1800-point grid of 2-D pRF + HRF predictions, 20x20 bars, 150 TRs, scored
  against 1000 voxels by correlation: 0.99 s wall) beside the same work here
  (predictions, then the 1800 x 1000 correlations in numpy).

Sizes (voxels): ``small`` 1k / 10k predictions and 10k weights (45-65 s on 2
busy cores); ``medium`` 1k / 10k / 100k and 10k / 100k; ``large`` 10k / 100k / 1M
and 100k / 1M (10x medium; 1.2 GB per 1M x 300 float32 array, tens of minutes
on a CPU).

Throughput is voxels/s. ``hw_fraction`` (GEMM-bound cases) is the achieved
FLOP/s over :func:`xneuro.bench.harness.gemm_peak_flops`, counting
``2 T P V`` for the 2-D image x field product (P = 4096 pixels), ``4 T P V``
for ``WeightFitter`` (the weights and the residuals for R²) and ``2 T P V +
2 P² V`` for numpy's ``lstsq`` / ``solve`` (T = 300 frames, P = 60 populations,
V voxels). Memory is the peak growth of the resident set during the warm-up
call, sampled every 2 ms (the script re-runs itself with
``MALLOC_MMAP_THRESHOLD_`` set, so that freed buffers leave the resident set).

``--device cuda`` runs the JAX models on the GPU (jaxlib with CUDA) and
``WeightFitter`` on torch CUDA tensors; the numpy/scipy peers stay on the CPU.

Usage::

    python benchmarks/bench_predict.py --size small          # < 60 s
    python benchmarks/bench_predict.py --size medium --json predict.json
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr
from scipy.signal import fftconvolve

from xneuro.bench.harness import (
    Result,
    Timing,
    add_arguments,
    dask_client,
    finish,
    gemm_peak_flops,
    jax_gpu_peak_mb,
    measure,
    require_device,
    select_jax_platform,
)

N_TIME = 300
TR = 1.5
N_POPULATIONS = 60
PRF_SIZES = {"small": [1_000, 10_000], "medium": [1_000, 10_000, 100_000],
             "large": [10_000, 100_000, 1_000_000]}
WEIGHT_SIZES = {"small": [10_000], "medium": [10_000, 100_000], "large": [100_000, 1_000_000]}
#: braincoder, reference notes section 4, Part B: fit_grid of 1800 points, 1000 voxels.
BRAINCODER_GRID_SECONDS = 0.99


# ----------------------------------------------------------------- numpy peers
def numpy_convolve(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Edge-padded causal convolution along time with scipy's FFT convolution."""
    n_taps = kernel.shape[0]
    padded = np.concatenate([np.repeat(x[:1], n_taps, axis=0), x])
    kernel = kernel if kernel.ndim == x.ndim else kernel[:, None]
    return fftconvolve(padded, kernel, axes=0)[n_taps:n_taps + len(x)]


def numpy_prf1d(stim: np.ndarray, pars: dict[str, np.ndarray], kernel: np.ndarray) -> np.ndarray:
    """1-D Gaussian pRF responses, convolved, scaled and shifted."""
    unit = np.exp(-0.5 * (stim[:, None] - pars["mu"]) ** 2 / pars["sd"] ** 2)
    return numpy_convolve(unit, kernel) * pars["amplitude"] + pars["baseline"]


def numpy_prf2d(images: np.ndarray, grid: np.ndarray, area: float, pars: dict[str, np.ndarray],
                kernel: np.ndarray, block: int = 4096) -> np.ndarray:
    """2-D Gaussian pRF responses (image x field products in voxel blocks), convolved."""
    flat = images.reshape(len(images), -1)
    n = len(pars["x"])
    out = np.empty((len(images), n), dtype=np.float32)
    for start in range(0, n, block):  # the (pixel, voxel) fields do not fit at once
        s = slice(start, start + block)
        d2 = (grid[:, :1] - pars["x"][s]) ** 2 + (grid[:, 1:] - pars["y"][s]) ** 2
        rf = np.exp(-0.5 * d2 / pars["sd"][s] ** 2) * (area / (pars["sd"][s] * np.sqrt(2 * np.pi)))
        out[:, s] = flat @ rf.astype(np.float32)
    return numpy_convolve(out, kernel) * pars["amplitude"] + pars["baseline"]


# ----------------------------------------------------------------- rows
class Bench:
    """Measures the cases and collects the rows (one place for device, repeat and the GEMM peak)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.rows = args, []
        self.peak_flops: float | None = None

    def add(self, case: str, n_voxels: int, who: str, func: Callable[[], Any], *,
            flops: float | None = None, device: str = "cpu", workers: int = 0,
            note: str = "", children: bool = False) -> Timing:
        """Measure ``func`` and add its row; ``flops`` per call gives ``hw_fraction``."""
        # JAX work on a GPU returns host arrays (synchronised): time it without torch.
        sync = "cuda" if device == "cuda" and case.startswith("WeightFitter") else "cpu"
        timing = measure(func, self.args.repeat, device=sync, children=children)
        if flops is not None and self.peak_flops is None:
            self.peak_flops = gemm_peak_flops()
        fraction = (flops / timing.seconds / self.peak_flops
                    if flops is not None and self.peak_flops and device == "cpu" else None)
        gpu_mb = timing.peak_gpu_mb if sync == "cuda" else (
            jax_gpu_peak_mb() if device == "cuda" else None)
        row = Result(benchmark="predict", case=case, size=f"{n_voxels // 1000}k vox",
                     who=who, seconds=timing.seconds, first_seconds=timing.first_seconds,
                     repeats=timing.repeats, throughput=n_voxels / timing.seconds,
                     unit="voxels/s", peak_host_mb=timing.peak_host_mb, peak_gpu_mb=gpu_mb,
                     hw_fraction=fraction, device=device, workers=workers, load=timing.load,
                     note=note)
        self.rows.append(row)
        print(f"  {case:<36} {row.size:>9} {who:<8} {row.seconds:9.4f} s "
              f"(first {row.first_seconds:.3f} s, {row.peak_host_mb:.0f} MB, "
              f"load {row.load:.1f})", flush=True)
        return timing


def bench_prf1d(bench: Bench, sizes: list[int], rng: np.random.Generator) -> None:
    """1-D Gaussian pRF + SPM HRF predictions."""
    from xneuro.encoding import GaussianPRFWithHRF
    from xneuro.hrf import SPMHRFModel

    hrf = SPMHRFModel(tr=TR)
    stim = rng.uniform(0, 20, N_TIME)
    model = GaussianPRFWithHRF(paradigm=xr.DataArray(stim, dims="time"), hrf_model=hrf)
    case = f"predict 1-D pRF + HRF, {N_TIME} TRs"
    for n in sizes:
        pars = {"mu": rng.uniform(0, 20, n), "sd": rng.uniform(0.5, 5, n),
                "amplitude": rng.uniform(0.5, 3, n), "baseline": rng.uniform(-1, 1, n)}
        ds = xr.Dataset({k: ("voxel", v.astype(np.float32)) for k, v in pars.items()})
        bench.add(case, n, "xneuro", lambda ds=ds: model.predict(parameters=ds),
                  device=bench.args.device)
        bench.add(case, n, "numpy", lambda p=pars: numpy_prf1d(stim, p, hrf.get_hrf()))


def _bars(n_pixels: int, n_time: int) -> np.ndarray:
    from xneuro.datasets import bar_sweeps

    frames = bar_sweeps(n_pixels, bar_width=0.15)
    return np.resize(frames, (n_time, n_pixels, n_pixels)).astype(np.float32)


def bench_prf2d(bench: Bench, sizes: list[int], rng: np.random.Generator) -> None:
    """2-D Gaussian pRF + SPM HRF predictions on a 64x64 grid (GEMM-bound)."""
    from xneuro.encoding import GaussianPRF2DWithHRF
    from xneuro.hrf import SPMHRFModel

    hrf = SPMHRFModel(tr=TR)
    coords = np.linspace(-5, 5, 64)
    images = _bars(64, N_TIME)
    paradigm = xr.DataArray(images, dims=("time", "y", "x"), coords={"y": coords, "x": coords})
    model = GaussianPRF2DWithHRF(paradigm=paradigm, hrf_model=hrf)
    grid = model.grid_coordinates.to_numpy()
    case = f"predict 2-D pRF 64x64 + HRF, {N_TIME} TRs"
    for n in sizes:
        pars = {"x": rng.uniform(-4, 4, n), "y": rng.uniform(-4, 4, n),
                "sd": rng.uniform(0.3, 2, n), "baseline": rng.uniform(-1, 1, n),
                "amplitude": rng.uniform(0.5, 3, n)}
        ds = xr.Dataset({k: ("voxel", v.astype(np.float32)) for k, v in pars.items()})
        flops = 2.0 * N_TIME * grid.shape[0] * n
        bench.add(case, n, "xneuro", lambda ds=ds: model.predict(parameters=ds), flops=flops,
                  device=bench.args.device)
        bench.add(case, n, "numpy", lambda p=pars: numpy_prf2d(
            images, grid, model.pixel_area, p, hrf.get_hrf()), flops=flops)


def bench_convolve(bench: Bench, sizes: list[int], rng: np.random.Generator) -> None:
    """HRF convolution alone: one shared HRF, one HRF per voxel."""
    from xneuro.hrf import SPMHRFModel, convolve

    hrf = SPMHRFModel(tr=TR, unique_hrfs=True)
    for n in sizes:
        x = rng.standard_normal((N_TIME, n)).astype(np.float32)
        case = f"HRF convolve, shared, {N_TIME} TRs"
        bench.add(case, n, "xneuro", lambda x=x: convolve(x, hrf))
        bench.add(case, n, "scipy", lambda x=x: numpy_convolve(x, hrf.get_hrf()))
        delays = rng.uniform(4, 7, n)
        kernels = hrf.get_hrf(hrf_delay=delays).astype(np.float32)
        case = f"HRF convolve, one per voxel, {N_TIME} TRs"
        bench.add(case, n, "xneuro", lambda x=x, d=delays: convolve(x, hrf, hrf_delay=d))
        bench.add(case, n, "scipy", lambda x=x, k=kernels: numpy_convolve(x, k))


def _on_device(data: np.ndarray, device: str) -> Any:
    if device != "cuda":
        return xr.DataArray(data, dims=("time", "voxel"))
    import torch

    return torch.as_tensor(data, device="cuda")


def bench_weights(bench: Bench, sizes: list[int], rng: np.random.Generator,
                  client: Any, workers: int) -> None:
    """WeightFitter least squares and ridge, in memory and on dask voxel chunks."""
    import pandas as pd

    from xneuro.encoding import GaussianPRF, WeightFitter

    stim = rng.uniform(0, 20, N_TIME)
    model = GaussianPRF(paradigm=stim)
    pops = pd.DataFrame({"mu": np.linspace(0, 20, N_POPULATIONS), "sd": 1.0, "amplitude": 1.0,
                         "baseline": 0.0})
    basis = np.exp(-0.5 * (stim[:, None] - pops.mu.to_numpy()) ** 2)
    device = bench.args.device
    p = N_POPULATIONS
    for n in sizes:
        data = (basis @ rng.normal(size=(p, n)) + rng.normal(size=(N_TIME, n))).astype(
            np.float32)
        ours_flops, peer_flops = 4.0 * N_TIME * p * n, 2.0 * N_TIME * p * n + 2.0 * p * p * n
        bold = _on_device(data, device)
        for alpha, name in ((0.0, "lstsq"), (1.0, "ridge")):
            case = f"WeightFitter {name} ({p} pops), {N_TIME} TRs"
            bench.add(case, n, "xneuro", lambda b=bold, a=alpha: WeightFitter(
                model, pops, b, stim).fit(a), flops=ours_flops, device=device)
            if alpha == 0:
                peer = lambda d=data: np.linalg.lstsq(basis, d, rcond=None)
            else:
                peer = lambda d=data: np.linalg.solve(basis.T @ basis + np.eye(p), basis.T @ d)
            bench.add(case, n, "numpy", peer, flops=peer_flops)
        n_chunks = 2 * workers if client is not None else 4
        chunked = xr.DataArray(data, dims=("time", "voxel")).chunk(
            {"voxel": -(-n // n_chunks)})
        where = f"{workers} workers" if client is not None else "dask threads"
        bench.add(f"WeightFitter ridge ({p} pops), dask chunks", n, "xneuro",
                  lambda b=chunked: WeightFitter(model, pops, b, stim).fit(1.0).compute(),
                  flops=ours_flops, workers=workers, children=client is not None,
                  note=f"{n_chunks} voxel chunks on {where}")


def bench_braincoder_recorded(bench: Bench, rng: np.random.Generator) -> None:
    """braincoder's recorded grid stage: 1800 2-D pRF+HRF predictions scored against 1000 voxels."""
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
    data = rng.standard_normal((150, 1000)).astype(np.float32)
    z_data = (data - data.mean(0)) / data.std(0)

    def grid_scores() -> np.ndarray:
        pred = np.asarray(model.predict(parameters=ds).values)
        z_pred = (pred - pred.mean(0)) / np.where(pred.std(0) > 0, pred.std(0), 1.0)
        scores = z_pred.T @ z_data / len(pred)  # (1800 grid points, 1000 voxels)
        return scores.argmax(0)

    case, size = "1800-point 2-D pRF+HRF grid x 1000 vox, 150 TRs", "1800 preds"
    timing = measure(grid_scores, bench.args.repeat)
    bench.rows.append(Result(
        benchmark="predict", case=case, size=size, who="xneuro", seconds=timing.seconds,
        first_seconds=timing.first_seconds, repeats=timing.repeats,
        throughput=1800 / timing.seconds, unit="predictions/s",
        peak_host_mb=timing.peak_host_mb, device="cpu", load=timing.load,
        note="predictions + correlation of each voxel with every grid prediction"))
    bench.rows.append(Result(
        benchmark="predict", case=case, size=size, who="braincoder",
        seconds=BRAINCODER_GRID_SECONDS, source="recorded",
        throughput=1800 / BRAINCODER_GRID_SECONDS, unit="predictions/s",
        note="reference notes section 4, Part B: fit_grid (TensorFlow, correlation cost), "
             "2-core CPU, other load"))


def _reexec_with_returning_malloc() -> None:
    """Re-run this script with glibc returning large blocks to the OS at once.

    With a fixed mmap threshold every large buffer (numpy's or XLA's) is its
    own mapping, released when freed, so the sampled RSS shows each call's
    peak instead of memory reused from earlier calls.
    """
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None and sys.platform.startswith("linux"):
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="1048576")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                  env)


def main(argv: list[str] | None = None) -> int:
    """Run the cases of ``--size`` and print (and with ``--json`` write) the rows."""
    parser = add_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    args = parser.parse_args(argv)
    if argv is None:
        _reexec_with_returning_malloc()
    reason = require_device(args.device)
    if reason:
        print(f"bench_predict: {reason}")
        return 0
    select_jax_platform(args.device)
    import jax

    rng = np.random.default_rng(0)
    print(f"bench_predict --size {args.size}: jax {jax.__version__} on {jax.devices()[0]}, "
          f"{os.cpu_count()} CPUs, {N_TIME} TRs, float32", flush=True)
    bench = Bench(args)
    prf_sizes = PRF_SIZES[args.size]
    bench_prf1d(bench, prf_sizes, rng)
    bench_prf2d(bench, prf_sizes, rng)
    bench_convolve(bench, prf_sizes, rng)
    with dask_client(args) as (client, workers):
        bench_weights(bench, WEIGHT_SIZES[args.size], rng, client, workers)
    bench_braincoder_recorded(bench, rng)
    title = (f"\npredict ({args.size}): peers are the same work in vectorised numpy/scipy; "
             "braincoder's row is recorded (reference notes, another machine and load)")
    if bench.peak_flops:
        title += f"; GEMM peak of this CPU {bench.peak_flops / 1e9:.0f} GFLOP/s"
    return finish(bench.rows, args, title)


if __name__ == "__main__":
    raise SystemExit(main())
