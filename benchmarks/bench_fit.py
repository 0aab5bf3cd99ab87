"""Benchmark the parameter fitter: grid + 1000 gradient iterations per voxel, xneuro vs braincoder.

Work (the reference notes' recipes, section 4), 150 TRs:

- ``1-D``: ``GaussianPRF``, stimulus U(0, 20) per frame; mu ~ U(0, 20), sd ~ U(.5, 5),
  amplitude ~ U(.5, 3), baseline ~ U(-1, 1); noise SD 0.5. Grid 50 mu x 40 sd
  (2000 points, correlation cost), closed-form amplitude/baseline refinement,
  then exactly ``--iterations`` Adam steps (lr 0.01, early stopping off).
- ``2-D 20x20`` / ``2-D 64x64``: ``GaussianPRF2DWithHRF`` + ``SPMHRFModel(tr=1.5)``
  on bar sweeps (``xneuro.datasets.bar_sweeps``), x, y ~ U(-.8, .8), sd ~ U(.1, .5),
  amplitude ~ U(.5, 2), baseline ~ U(-1, 1); noise SD 0.1. Grid 15 x 15 x 8 sd
  (1800 points, as braincoder's Part B), refinement, Adam as above.

Sizes: ``small`` 1000 voxels, 1-D and 2-D 20x20 (40-50 s on 2 busy cores);
``medium`` 1k / 10k / 100k voxels, all three models (hours on 2 cores: one
2-D 64x64 fit of 10k voxels took over 3 CPU-minutes, and 100k voxels is 10x
that, twice); ``large`` 10k / 100k / 1M voxels (10x medium, meant for a GPU
node).

Each case is fitted once as a warm-up (the ``first`` column: it includes JIT
compilation) and then ``--repeat`` times (default 1 here: fits are long);
``seconds`` is the median of those, for the whole fit (grid, refinement,
gradient). Throughput is voxels x iterations per second. The notes hold the
gradient's ms per iteration, the grid + refinement time, the mean R² of the
true parameters, of grid + refinement and of the fit.

Without ``--workers`` / ``--scheduler`` the fit runs in memory (one process,
XLA's own threads). ``--workers N`` runs the dask path on a ``LocalCluster``
of N single-threaded worker processes (``--scheduler ADDR``: on that cluster),
the data chunked in two voxel chunks per worker; peak memory then includes the
worker processes.

braincoder cannot be installed from PyPI; its figures from the reference notes
are rows marked ``recorded`` (2-core CPU, TensorFlow, 1000 voxels x 150 TRs):
1-D grid 0.87 s + refinement 0.08 s + 1000 iterations 25.7 s (the quietest
run; mean R² .5252); 2-D with HRF grid 0.99 s + refinement 0.07 s + 1000
iterations 42.3 s (the final run; earlier runs 57.7 to 100.6 s; R² .403).

Usage::

    python benchmarks/bench_fit.py --size small
    python benchmarks/bench_fit.py --models 2d64 --voxels 1000 --workers 2
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from xneuro.bench.harness import (
    Result,
    add_arguments,
    dask_client,
    finish,
    jax_gpu_peak_mb,
    measure,
    require_device,
    select_jax_platform,
)

#: braincoder, reference notes section 4: grid + refinement + 1000 iterations, 1000 voxels.
RECORDED = {
    "1d": {"seconds": 0.87 + 0.08 + 25.7, "r2": 0.5252, "truth": 0.5115, "grid": 0.5233,
           "note": "quietest run: grid 0.87 s + refine 0.08 s + 1000 Adam steps 25.7 s "
                   "(final run 1.10 + 0.07 + 34.6 s); mean R2 truth .5115, grid .5233, "
                   "fit .5252"},
    "2d20": {"seconds": 0.99 + 0.07 + 42.3, "r2": 0.403, "truth": 0.382, "grid": 0.398,
             "note": "final run: grid 0.99 s + refine 0.07 s + 1000 Adam steps 42.3 s "
                     "(earlier runs 57.7 to 100.6 s); mean R2 truth .382, grid .398, "
                     "fit .403"},
}
MODELS = {"1d": "1-D GaussianPRF", "2d20": "2-D pRF 20x20 + HRF", "2d64": "2-D pRF 64x64 + HRF"}
SIZES = {"small": (["1d", "2d20"], [1000]),
         "medium": (["1d", "2d20", "2d64"], [1000, 10_000, 100_000]),
         "large": (["1d", "2d20", "2d64"], [10_000, 100_000, 1_000_000])}
N_TIME = 150


def _simulate(kind: str, n_voxels: int, seed: int = 0) -> tuple[Any, ...]:
    """Model, noisy data, true parameters, noiseless data and grid of one case."""
    import numpy as np
    import pandas as pd

    from xneuro.datasets.sample import bar_sweeps
    from xneuro.encoding import GaussianPRF, GaussianPRF2DWithHRF
    from xneuro.hrf import SPMHRFModel

    rng = np.random.default_rng(seed)
    if kind == "1d":
        model = GaussianPRF(paradigm=rng.uniform(0, 20, N_TIME))
        truth = {"mu": rng.uniform(0, 20, n_voxels), "sd": rng.uniform(0.5, 5, n_voxels),
                 "amplitude": rng.uniform(0.5, 3, n_voxels),
                 "baseline": rng.uniform(-1, 1, n_voxels)}
        grid = {"mu": np.linspace(0, 20, 50), "sd": np.linspace(0.5, 5, 40)}
        noise = 0.5
    else:
        pixels = 20 if kind == "2d20" else 64
        model = GaussianPRF2DWithHRF(paradigm=bar_sweeps(pixels)[:N_TIME],
                                     hrf_model=SPMHRFModel(tr=1.5))
        truth = {"x": rng.uniform(-0.8, 0.8, n_voxels), "y": rng.uniform(-0.8, 0.8, n_voxels),
                 "sd": rng.uniform(0.1, 0.5, n_voxels),
                 "baseline": rng.uniform(-1, 1, n_voxels),
                 "amplitude": rng.uniform(0.5, 2, n_voxels)}
        grid = {"x": np.linspace(-1, 1, 15), "y": np.linspace(-1, 1, 15),
                "sd": np.geomspace(0.05, 1.0, 8)}
        noise = 0.1
    truth = pd.DataFrame(truth)[list(model.parameter_labels)]
    clean = model.predict(parameters=truth).to_numpy()
    data = (clean + rng.normal(0, noise, clean.shape)).astype("float32")
    return model, data, truth, clean, grid


def _r2(data: Any, prediction: Any) -> Any:
    centred = data - data.mean(0)
    return 1 - ((data - prediction) ** 2).sum(0) / (centred**2).sum(0)


def run_case(kind: str, n_voxels: int, args: argparse.Namespace, client: Any,
             workers: int) -> Result:
    """Fit one problem (warm-up, then ``--repeat`` timed fits) and return its row."""
    import time

    import numpy as np
    import xarray as xr

    from xneuro.encoding import fit_parameters

    iterations = args.iterations
    model, data, truth, clean, grid = _simulate(kind, n_voxels)
    bold = xr.DataArray(data, dims=("time", "voxel"))
    if client is not None:
        bold = bold.chunk({"voxel": -(-n_voxels // (2 * max(workers, 1)))})
    kwargs = {"grid": grid, "max_n_iterations": iterations, "min_n_iterations": iterations}
    fitted: dict[str, Any] = {}

    def fit() -> None:
        result = fit_parameters(bold, model, **kwargs)
        fitted["fit"] = result.compute() if client is not None else result

    timing = measure(fit, args.repeat, children=client is not None)
    began = time.perf_counter()  # grid + refinement alone (compiled by now)
    grid_only = fit_parameters(bold, model, max_n_iterations=0, grid=grid)
    grid_only = grid_only.compute() if client is not None else grid_only
    grid_seconds = time.perf_counter() - began
    fit_ds = fitted["fit"]
    labels = list(model.parameter_labels)
    recovery = ", ".join(f"{k} {np.corrcoef(fit_ds[k].values, truth[k].values)[0, 1]:.3f}"
                         for k in labels)
    ms_iter = 1e3 * max(timing.seconds - grid_seconds, 0.0) / max(iterations, 1)
    r2_truth = float(_r2(data, clean).mean())
    r2_grid = float(np.nanmean(grid_only["r2"].values))
    r2_fit = float(np.nanmean(fit_ds["r2"].values))
    note = (f"{ms_iter:.2f} ms/iter; grid+refine {grid_seconds:.2f} s; mean R2 truth "
            f"{r2_truth:.4f}, grid {r2_grid:.4f}, fit {r2_fit:.4f}; recovery r {recovery}")
    if client is not None:
        note += f"; {len(bold.chunks[1])} voxel chunks on {workers} workers"
    return Result(benchmark="fit", case=f"{MODELS[kind]}: grid + refine + {iterations} Adam",
                  size=f"{n_voxels} vox x {N_TIME} TRs", who="xneuro", seconds=timing.seconds,
                  first_seconds=timing.first_seconds, repeats=timing.repeats,
                  throughput=n_voxels * iterations / timing.seconds, unit="voxel-iterations/s",
                  peak_host_mb=timing.peak_host_mb,
                  peak_gpu_mb=jax_gpu_peak_mb() if args.device == "cuda" else None,
                  device=args.device, workers=workers, load=timing.load, note=note)


def recorded_rows(models: list[str], sizes: list[int], iterations: int) -> list[Result]:
    """braincoder's figures from the reference notes, where the same case was run here."""
    if iterations != 1000 or 1000 not in sizes:
        return []
    return [Result(benchmark="fit", case=f"{MODELS[kind]}: grid + refine + 1000 Adam",
                   size=f"1000 vox x {N_TIME} TRs", who="braincoder", source="recorded",
                   seconds=rec["seconds"], throughput=1000 * 1000 / rec["seconds"],
                   unit="voxel-iterations/s", note=rec["note"])
            for kind, rec in RECORDED.items() if kind in models]


def main(argv: list[str] | None = None) -> int:
    """Run the fits of ``--size`` and print (and with ``--json`` write) the rows."""
    parser = add_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=None,
                        help="models to fit (default: the size's)")
    parser.add_argument("--voxels", nargs="+", type=int, default=None,
                        help="voxel counts (default: the size's)")
    parser.add_argument("--iterations", type=int, default=1000, help="Adam steps per fit")
    parser.set_defaults(repeat=1)
    args = parser.parse_args(argv)
    reason = require_device(args.device)
    if reason:
        print(f"bench_fit: {reason}")
        return 0
    select_jax_platform(args.device)
    models = args.models or SIZES[args.size][0]
    sizes = args.voxels or SIZES[args.size][1]
    print(f"bench_fit --size {args.size}: grid + {args.iterations} Adam iterations, {N_TIME} "
          f"TRs, {os.cpu_count()} CPUs", flush=True)
    rows = []
    with dask_client(args) as (client, workers):
        for kind in models:
            for n in sizes:
                row = run_case(kind, n, args, client, workers)
                rows.append(row)
                print(f"  {row.case:<44} {row.size:>20} {row.seconds:8.2f} s (first "
                      f"{row.first_seconds:.2f} s, load {row.load:.1f}): {row.note}",
                      flush=True)
    rows += recorded_rows(models, sizes, args.iterations)
    return finish(rows, args, f"\nfit ({args.size}, device {args.device}, workers {workers}); "
                              "braincoder rows are recorded (reference notes, section 4)")


if __name__ == "__main__":
    raise SystemExit(main())
