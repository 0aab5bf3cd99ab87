"""Benchmark the parameter fitter: grid + 1000 gradient iterations per voxel, xneuro vs braincoder.

Work (the reference notes' recipes, section 4):

- ``1-D``: ``GaussianPRF``, stimulus U(0, 20) per frame; mu ~ U(0, 20), sd ~ U(.5, 5),
  amplitude ~ U(.5, 3), baseline ~ U(-1, 1); noise SD 0.5. Grid 50 mu x 40 sd
  (2000 points, correlation cost), closed-form amplitude/baseline refinement,
  then exactly ``--iterations`` Adam steps (lr 0.01, early stopping off).
- ``2-D 20x20`` / ``2-D 64x64``: ``GaussianPRF2DWithHRF`` + ``SPMHRFModel(tr=1.5)``
  on bar sweeps (``xneuro.datasets.bar_sweeps``), x, y ~ U(-.8, .8), sd ~ U(.1, .5),
  amplitude ~ U(.5, 2), baseline ~ U(-1, 1); noise SD 0.1. Grid 15 x 15 x 8 sd
  (1800 points, as braincoder's Part B), refinement, Adam as above.

Each case runs in a fresh subprocess, twice (``--runs``): the first run
includes JIT compilation (``cold``), the last is the steady state. ``workers 0`` is the in-memory
path (one process, XLA's own threads); ``workers 1`` / ``2`` run the dask path
on a ``LocalCluster`` of that many single-threaded worker processes, the data
chunked in two units per worker. Columns: wall seconds of the whole fit (grid,
refinement, gradient), gradient ms per iteration (wall), CPU seconds of the
process tree (steadier than wall time when other jobs share the CPUs), peak
memory (RSS of the process tree), mean R² of the true parameters, of grid +
refinement and of the fit, and the 1-minute load average when the case started.

braincoder cannot be installed here (git only, no network); its figures from
the reference notes are printed as ``recorded`` (2-core CPU, TensorFlow, 1000
voxels x 150 TRs): 1-D 25.7 s for 1000 iterations (mean R² .5252, truth .5115,
grid+refine .5233); 2-D with HRF 57.7 s (final run 42.3 s; R² .403).

Usage::

    python benchmarks/bench_fit.py --quick          # 1000 voxels, 1-D and 2-D 20x20, < 60 s
    python benchmarks/bench_fit.py                  # the sweep: 1k/10k/100k voxels (long)
    python benchmarks/bench_fit.py --models 2d64 --sizes 1000 --workers 0 1 2
    python benchmarks/bench_fit.py --json fit.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time

#: braincoder, reference notes section 4: seconds for 1000 iterations of 1000 voxels.
RECORDED = {"1d": {"seconds": 25.7, "r2": 0.5252, "truth": 0.5115, "grid": 0.5233},
            "2d20": {"seconds": 57.7, "r2": 0.403, "truth": 0.382, "grid": 0.398}}
MODELS = {"1d": "1-D", "2d20": "2-D 20x20", "2d64": "2-D 64x64"}
N_TIME = 150


# ----------------------------------------------------------------------------- one case


def _simulate(kind: str, n_voxels: int, seed: int = 0):
    import numpy as np

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
    import pandas as pd

    truth = pd.DataFrame(truth)[list(model.parameter_labels)]
    clean = model.predict(parameters=truth).to_numpy()
    data = (clean + rng.normal(0, noise, clean.shape)).astype("float32")
    return model, data, truth, clean, grid


def _r2(data, prediction):
    centred = data - data.mean(0)
    return 1 - ((data - prediction) ** 2).sum(0) / (centred**2).sum(0)


class _PeakMemory:
    """Samples the RSS of this process and its children every 20 ms."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(Exception):  # a child that just exited
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def _cpu_seconds() -> float:
    import psutil

    process = psutil.Process()
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        with contextlib.suppress(Exception):  # a child that just exited
            total += sum(child.cpu_times()[:2])
    return total


def _run_case(spec: dict) -> dict:
    """Fit one problem twice (cold, then warm) and return the measurements."""
    import numpy as np
    import xarray as xr

    import xneuro
    from xneuro.encoding import fit_parameters

    kind, n_voxels, workers = spec["model"], spec["voxels"], spec["workers"]
    iterations = spec["iterations"]
    model, data, truth, clean, grid = _simulate(kind, n_voxels)
    load = os.getloadavg()[0]
    bold = xr.DataArray(data, dims=("time", "voxel"))
    kwargs = {"grid": grid, "max_n_iterations": iterations, "min_n_iterations": iterations}
    client = None
    if workers:
        client = xneuro.cluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address=None, memory_limit=None)
        bold = bold.chunk({"voxel": -(-n_voxels // (2 * workers))})
    runs = []
    try:
        for _ in range(spec.get("runs", 2)):
            began = time.perf_counter()
            grid_only = fit_parameters(bold, model, max_n_iterations=0, grid=grid)
            grid_only = grid_only.compute() if workers else grid_only
            grid_seconds = time.perf_counter() - began
            cpu0, began = _cpu_seconds(), time.perf_counter()
            with _PeakMemory() as memory:  # the whole fit: grid, refinement, gradient
                fit = fit_parameters(bold, model, **kwargs)
                fit = fit.compute() if workers else fit
            seconds = time.perf_counter() - began
            runs.append({"seconds": seconds, "grid_seconds": grid_seconds,
                         "gradient_seconds": seconds - grid_seconds,
                         "cpu": _cpu_seconds() - cpu0, "peak_mib": memory.peak / 2**20})
    finally:
        if client is not None:
            client.close()
    labels = list(model.parameter_labels)
    recovery = {k: float(np.corrcoef(fit[k].values, truth[k].values)[0, 1]) for k in labels}
    return {
        **spec, "load": load, "cold": runs[0], "warm": runs[-1],
        "ms_per_iteration": 1e3 * runs[-1]["gradient_seconds"] / max(iterations, 1),
        "r2_truth": float(_r2(data, clean).mean()),
        "r2_grid": float(np.nanmean(grid_only["r2"].values)),
        "r2_fit": float(np.nanmean(fit["r2"].values)), "recovery": recovery,
    }


# ----------------------------------------------------------------------------- the driver


def _measure(spec: dict, timeout: float) -> dict:
    command = [sys.executable, __file__, "--case", json.dumps(spec)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                             check=False)
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {**spec, "error": (out.stderr.strip().splitlines() or ["no output"])[-1]}


def _row(result: dict) -> str:
    name = f"{MODELS[result['model']]:<10} {result['voxels']:>7,} {result['workers']:>3}"
    if "error" in result:
        return f"{name}  {result['error']}"
    warm, cold = result["warm"], result["cold"]
    return (f"{name} {warm['seconds']:>8.2f} {cold['seconds']:>8.2f} {warm['grid_seconds']:>6.2f} "
            f"{result['ms_per_iteration']:>8.2f} {warm['cpu']:>8.1f} {warm['peak_mib']:>8.0f} "
            f"{result['r2_truth']:>6.4f} {result['r2_grid']:>6.4f} {result['r2_fit']:>6.4f} "
            f"{result['load']:>5.1f}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1000 voxels, 1-D and 2-D 20x20, in memory only (< 60 s)")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=None)
    parser.add_argument("--sizes", nargs="+", type=int, default=None, help="voxel counts")
    parser.add_argument("--workers", nargs="+", type=int, default=None,
                        help="0: in memory; 1, 2: LocalCluster worker processes")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2,
                        help="fits per case; the last is reported as warm (1: cold only)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per case")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(_run_case(json.loads(args.case))))
        return 0
    models = args.models or (["1d", "2d20"] if args.quick else ["1d", "2d20", "2d64"])
    sizes = args.sizes or ([1000] if args.quick else [1000, 10_000, 100_000])
    workers = args.workers or ([0] if args.quick else [0, 1, 2])
    print(f"xneuro fit benchmark: grid + {args.iterations} Adam iterations, {N_TIME} TRs, "
          f"{os.cpu_count()} CPUs")
    print("model        voxels  wrk   wall s  cold s  grid s  ms/iter    cpu s  peak MiB "
          "R2 true  grid   fit  load")
    results = []
    for model in models:
        for n in sizes:
            for w in workers:
                spec = {"model": model, "voxels": n, "workers": w, "iterations": args.iterations,
                        "runs": max(1, args.runs)}
                result = _measure(spec, args.timeout)
                results.append(result)
                print(_row(result), flush=True)
    print("\nbraincoder (recorded, reference notes section 4; 1000 voxels x 150 TRs, 1000 "
          "iterations):")
    for model, rec in RECORDED.items():
        print(f"  {MODELS[model]:<10} fit {rec['seconds']:.1f} s ({rec['seconds']:.1f} ms/iter); "
              f"mean R2 truth {rec['truth']:.4f}, grid+refine {rec['grid']:.4f}, "
              f"fit {rec['r2']:.4f}")
        mine = [r for r in results if r["model"] == model and r["voxels"] == 1000
                and r["workers"] == 0 and "error" not in r]
        if mine:
            speedup = rec["seconds"] / mine[0]["warm"]["seconds"]
            print(f"  {'':<10} xneuro: {mine[0]['warm']['seconds']:.2f} s wall for grid + "
                  f"refinement + fit ({speedup:.0f}x), "
                  f"{mine[0]['ms_per_iteration']:.2f} ms/iter")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
