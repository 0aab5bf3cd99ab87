"""Benchmark: residual covariance fit (ResidualFitter) and the stimulus posterior (decoding).

Work (the issue's sizes): Gaussian 1-D pRFs, ``V`` voxels x 1000 timepoints,
noise with a known omega (tau, rho 0.2, sigma2 0.1, pseudo-WW^T), then

- ``ResidualFitter.fit`` for exactly ``--iterations`` Adam steps (Gaussian
  likelihood, pseudo-WW^T over 200 stimulus values); throughput in voxels x
  iterations per second;
- ``get_stimulus_pdf`` over 200 stimulus values for all 1000 timepoints;
  throughput in timepoints per second (the note holds the correlation of the
  posterior mean with the true stimulus).

Sizes (voxels): ``small`` 100 (about 40 s on 2 busy cores; 95-105 s with the
TensorFlow peer), ``medium`` 100 / 300 / 1000, ``large`` 1000 / 3000 / 10000
(10x medium; omega is V x V, so the fit's Cholesky grows as V³: meant for a
GPU node).

Each (size, implementation) runs in a fresh subprocess: one warm-up call
(``first``: compilation or tracing), then the median of ``--repeat`` calls
(default 1 here); memory is the peak growth of the resident set during the
warm-up call (``VmHWM`` after resetting it through ``/proc/self/clear_refs``).

The peer is braincoder (main, TensorFlow), run the same way under the python
of a scratch venv with tensorflow(-cpu) and tensorflow-probability:
``--peer-python`` or ``$XNEURO_PEER_PYTHON_DECODE`` / ``$XNEURO_PEER_PYTHON``,
and, when braincoder is a source checkout rather than installed there, the
folder that holds its ``braincoder/`` package: ``--peer-path`` or
``$XNEURO_PEER_PATH_DECODE``. Without a peer python the braincoder rows are
left out (the reference notes record no decoding timings to fall back on).
The peer always runs on the CPU; ``--device cuda`` runs xneuro's JAX code on
the GPU. There is no Dask work here: ``--workers`` / ``--scheduler`` are not
used (the rows say ``workers 0``).

Usage::

    python benchmarks/bench_decode.py --size small
    XNEURO_PEER_PYTHON_DECODE=$VENV/bin/python XNEURO_PEER_PATH_DECODE=$SRC \\
        python benchmarks/bench_decode.py --size medium --json decode.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

N_TIME, N_STIM = 1000, 200
SIZES = {"small": [100], "medium": [100, 300, 1000], "large": [1000, 3000, 10_000]}
PEER_PATH_ENV = "XNEURO_PEER_PATH_DECODE"


# ------------------------------------------------------------- the workers
# Everything above main() runs under the peer's python too: numpy, pandas and
# the standard library only (xneuro is not installed there).
def _kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _measure(op: Any, repeat: int) -> tuple[dict[str, float], Any]:
    """The harness's convention in a process without xneuro: warm-up, then the median.

    Returns seconds (median of ``repeat`` calls), first (the warm-up call),
    cpu (CPU seconds of the last call, all threads), mb (peak resident-set
    growth of the warm-up call) and the last result.
    """
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # the peak resident set restarts from the current one
    except OSError:
        pass
    before = _kib("VmRSS")
    start = time.perf_counter()
    out = op()
    first = time.perf_counter() - start
    mb = max(_kib("VmHWM") - before, 0) / 1024
    times, cpu = [], 0.0
    for _ in range(repeat):
        start, cpu0 = time.perf_counter(), time.process_time()
        out = op()
        times.append(time.perf_counter() - start)
        cpu = time.process_time() - cpu0
    return {"seconds": statistics.median(times) if times else first, "first": first,
            "cpu": cpu, "mb": mb, "repeats": len(times), "load": os.getloadavg()[0]}, out


def _problem(n_voxels: int, seed: int = 0) -> dict[str, Any]:
    """Parameters, stimuli and data as plain numpy (the same for both libraries)."""
    rng = np.random.default_rng(seed)
    pars = np.column_stack([rng.uniform(1, 40, n_voxels), rng.uniform(3, 10, n_voxels),
                            rng.uniform(0.5, 2, n_voxels), rng.uniform(-0.5, 0.5, n_voxels)])
    stimuli = rng.uniform(3, 38, N_TIME)
    srange = np.linspace(1, 40, N_STIM)
    tuning = lambda x: pars[:, 2] * np.exp(-0.5 * (x[:, None] - pars[:, 0]) ** 2
                                           / pars[:, 1] ** 2) + pars[:, 3]
    f = tuning(srange) - pars[:, 3]
    wwt = f.T @ f
    tau = rng.uniform(0.4, 0.8, n_voxels)
    omega = 0.2 * np.outer(tau, tau) + 0.8 * np.diag(tau**2) + 0.1 * wwt / wwt.mean()
    noise = rng.standard_normal((N_TIME, n_voxels)) @ np.linalg.cholesky(omega).T
    return {"pars": pars, "stimuli": stimuli, "srange": srange,
            "data": tuning(stimuli) + noise, "omega": omega}


def _posterior_r(post: Any, p: dict[str, Any]) -> float:
    values = np.asarray(post)
    mean = values @ p["srange"] / values.sum(1)
    return float(np.corrcoef(mean, p["stimuli"])[0, 1])


def _ours(n_voxels: int, iterations: int, repeat: int) -> dict[str, Any]:
    import pandas as pd

    from xneuro.encoding import GaussianPRF, ResidualFitter

    p = _problem(n_voxels)
    pars = pd.DataFrame(p["pars"], columns=["mu", "sd", "amplitude", "baseline"])
    model = GaussianPRF(paradigm=p["stimuli"], parameters=pars)

    def fit() -> Any:
        fitter = ResidualFitter(model, p["data"])
        return fitter.fit(stimulus_range=p["srange"], max_n_iterations=iterations,
                          min_n_iterations=iterations, progress=False)

    fit_m, _ = _measure(fit, repeat)
    pdf_m, post = _measure(lambda: model.get_stimulus_pdf(p["data"], p["srange"],
                                                          omega=p["omega"]), repeat)
    gpu = None
    try:
        import jax

        devices = [d for d in jax.devices() if d.platform == "gpu"]
        stats = devices[0].memory_stats() if devices else None
        gpu = stats["peak_bytes_in_use"] / 2**20 if stats else None
    except Exception:  # no GPU, or no statistics: the column stays empty
        pass
    return {"fit": fit_m, "pdf": pdf_m, "r": _posterior_r(post.to_numpy(), p), "gpu_mb": gpu}


def _peer(n_voxels: int, iterations: int, repeat: int) -> dict[str, Any]:
    import contextlib
    import io

    import pandas as pd
    from braincoder.models import GaussianPRF
    from braincoder.optimize import ResidualFitter

    if not hasattr(np, "trapz"):  # braincoder main still calls np.trapz (gone in numpy 2.4)
        np.trapz = np.trapezoid  # noqa: NPY201
    p = {k: np.asarray(v, dtype=np.float32) for k, v in _problem(n_voxels).items()}
    pars = pd.DataFrame(p["pars"], columns=["mu", "sd", "amplitude", "baseline"])
    paradigm = pd.DataFrame({"x": p["stimuli"]})
    data = pd.DataFrame(p["data"])  # braincoder works in float32 only
    model = GaussianPRF(paradigm=paradigm, parameters=pars)
    model.init_pseudoWWT(p["srange"], pars)

    def fit() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):  # braincoder prints
            fitter = ResidualFitter(model, data, paradigm, pars)
            return fitter.fit(max_n_iterations=iterations, min_n_iterations=iterations,
                              progressbar=False)

    fit_m, _ = _measure(fit, repeat)
    pdf_m, post = _measure(lambda: model.get_stimulus_pdf(data, p["srange"], pars,
                                                          omega=p["omega"]), repeat)
    return {"fit": fit_m, "pdf": pdf_m, "r": _posterior_r(post.to_numpy(), p), "gpu_mb": None}


def _worker(spec: str) -> None:
    job = json.loads(spec)
    run = _ours if job["who"] == "xneuro" else _peer
    try:
        result = run(job["n_voxels"], job["iterations"], job["repeat"])
    except Exception as error:  # reported in the table, not raised
        result = {"error": f"{type(error).__name__}: {error}"[:300]}
    print("RESULT " + json.dumps(result))


# ---------------------------------------------------------------- the driver
def _spawn(who: str, n_voxels: int, args: argparse.Namespace, python: str,
           path: str | None) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if who != "xneuro":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the peer venv's TensorFlow runs on the CPU
    elif args.device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    spec = json.dumps({"who": who, "n_voxels": n_voxels, "iterations": args.iterations,
                       "repeat": args.repeat})
    try:
        done = subprocess.run([python, os.path.abspath(__file__), "--worker", spec],
                              capture_output=True, text=True, env=env,
                              timeout=args.case_timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.case_timeout:.0f} s"}
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}


def _rows(who: str, n_voxels: int, result: dict[str, Any], args: argparse.Namespace) -> list:
    from xneuro.bench.harness import Result

    device = args.device if who == "xneuro" else "cpu"
    size = f"{n_voxels} vox x {N_TIME} TRs"
    cases = (("fit", f"ResidualFitter, {args.iterations} Adam steps",
              n_voxels * args.iterations, "voxel-iterations/s"),
             ("pdf", f"get_stimulus_pdf, {N_STIM} stimulus values", N_TIME, "timepoints/s"))
    rows = []
    for key, case, work, unit in cases:
        m = result.get(key)
        if m is None:
            rows.append(Result(benchmark="decode", case=case, size=size, who=who,
                               seconds=float("nan"), device=device,
                               note=result.get("error", "no result")))
            continue
        note = f"CPU {m['cpu']:.2f} s per call"
        if key == "pdf":
            note += f"; r(posterior mean, stimulus) {result['r']:.3f}"
        rows.append(Result(benchmark="decode", case=case, size=size, who=who,
                           seconds=m["seconds"], first_seconds=m["first"],
                           repeats=m["repeats"], throughput=work / m["seconds"], unit=unit,
                           peak_host_mb=m["mb"], peak_gpu_mb=result.get("gpu_mb"),
                           device=device, load=m["load"], note=note))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the sizes of ``--size`` for xneuro (and braincoder with a peer python)."""
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--worker":
        _worker(sys.argv[2])  # under the peer's python: no xneuro imports
        return 0
    from xneuro.bench.harness import add_arguments, finish, peer_python, require_device

    parser = add_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--voxels", type=int, nargs="+", default=None,
                        help="voxel counts (default: the size's)")
    parser.add_argument("--iterations", type=int, default=100, help="Adam steps per fit")
    parser.add_argument("--peer-path", default=None,
                        help=f"folder holding braincoder/ (default ${PEER_PATH_ENV})")
    parser.add_argument("--case-timeout", type=float, default=3600.0,
                        help="seconds for one (size, implementation) subprocess")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(repeat=1)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return 0
    reason = require_device(args.device)
    if reason:
        print(f"bench_decode: {reason}")
        return 0
    if args.workers or args.scheduler:
        print("bench_decode: the fit and the posterior run in one process (no Dask); "
              "--workers/--scheduler are not used")
    sizes = args.voxels or SIZES[args.size]
    peer = peer_python(args, "decode")
    path = args.peer_path or os.environ.get(PEER_PATH_ENV)
    if path and not Path(path, "braincoder").is_dir():
        print(f"bench_decode: --peer-path {path!r} holds no braincoder/ folder; using the "
              "peer python's own braincoder, if any")
        path = None
    print(f"bench_decode --size {args.size}: ResidualFitter ({args.iterations} Adam steps) and "
          f"get_stimulus_pdf, {N_TIME} timepoints x {N_STIM} stimulus values; peer: "
          + (f"braincoder under {peer}" if peer else "none (set --peer-python or "
             "$XNEURO_PEER_PYTHON_DECODE)"), flush=True)
    rows = []
    for n_voxels in sizes:
        for who in ("xneuro", "braincoder") if peer else ("xneuro",):
            python = sys.executable if who == "xneuro" else peer
            result = _spawn(who, n_voxels, args, python, None if who == "xneuro" else path)
            rows += _rows(who, n_voxels, result, args)
            for row in rows[-2:]:
                print(f"  {row.case:<40} {row.size:>20} {who:<10} {row.seconds:8.3f} s "
                      f"(first {row.first_seconds or float('nan'):.2f} s) {row.note}",
                      flush=True)
    return finish(rows, args, f"\ndecode ({args.size}, device {args.device}); peer: "
                              + ("braincoder (TensorFlow, CPU)" if peer else "none"))


if __name__ == "__main__":
    raise SystemExit(main())
