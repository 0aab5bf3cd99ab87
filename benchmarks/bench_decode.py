"""Benchmark: residual covariance fit (ResidualFitter) and the stimulus posterior (decoding).

Work (the issue's sizes): Gaussian 1-D pRFs, ``V`` voxels (100 / 300 / 1000) x
1000 timepoints, noise with a known omega (tau, rho 0.2, sigma2 0.1, pseudo-WW^T),
then

- ``ResidualFitter.fit`` for exactly ``--iterations`` Adam steps (Gaussian
  likelihood, pseudo-WW^T over 200 stimulus values), time of the first call
  (includes compilation / tracing) and of a second call;
- ``get_stimulus_pdf`` over 200 stimulus values for all 1000 timepoints.

Each row runs in a fresh subprocess: time is wall-clock seconds, memory is the
peak growth of the resident set during the call (``VmHWM`` after resetting it
with ``/proc/self/clear_refs``). The peer is braincoder (main, TensorFlow) run
the same way with ``--peer-python`` (a scratch venv with tensorflow-cpu and
tensorflow-probability) and ``--peer-path`` (a checkout of braincoder); when
those are missing the peer columns say ``n/a``. Other jobs may share the CPU:
the load average is printed with each row.

Usage::

    python benchmarks/bench_decode.py --quick            # 100 voxels, < 60 s
    python benchmarks/bench_decode.py --peer-python /tmp/peer-venv/bin/python \\
        --peer-path /tmp/braincoder-src --json decode.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

N_TIME, N_STIM = 1000, 200


# ------------------------------------------------------------- the workers
def _kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _measure(op: Any) -> tuple[dict[str, float], Any]:
    """Wall seconds, CPU seconds (all threads) and peak resident-set growth (MB) of ``op()``."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # the peak resident set restarts from the current one
    except OSError:
        pass
    before = _kib("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    out = op()
    return {"s": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "mb": max(_kib("VmHWM") - before, 0) / 1024}, out


def _twice(name: str, op: Any, out: dict[str, Any]) -> Any:
    """Run ``op`` twice (the first call compiles or traces); record both."""
    first, _ = _measure(op)
    second, result = _measure(op)
    out.update({f"{name}_{k}_1": v for k, v in first.items()})
    out.update({f"{name}_{k}_2": v for k, v in second.items()})
    return result


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


def _ours(n_voxels: int, iterations: int) -> dict[str, Any]:
    import pandas as pd

    from xneuro.encoding import GaussianPRF, ResidualFitter

    p = _problem(n_voxels)
    pars = pd.DataFrame(p["pars"], columns=["mu", "sd", "amplitude", "baseline"])
    model = GaussianPRF(paradigm=p["stimuli"], parameters=pars)
    out: dict[str, Any] = {}

    def fit() -> Any:
        fitter = ResidualFitter(model, p["data"])
        return fitter.fit(stimulus_range=p["srange"], max_n_iterations=iterations,
                          min_n_iterations=iterations, progress=False)

    _twice("fit", fit, out)
    post = _twice("pdf", lambda: model.get_stimulus_pdf(p["data"], p["srange"],
                                                        omega=p["omega"]), out)
    values = post.to_numpy()
    mean = values @ p["srange"] / values.sum(1)
    out["r"] = float(np.corrcoef(mean, p["stimuli"])[0, 1])
    return out


def _peer(n_voxels: int, iterations: int) -> dict[str, Any]:
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
    out: dict[str, Any] = {}

    def fit() -> Any:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # braincoder prints
            fitter = ResidualFitter(model, data, paradigm, pars)
            return fitter.fit(max_n_iterations=iterations, min_n_iterations=iterations,
                              progressbar=False)

    _twice("fit", fit, out)
    post = _twice("pdf", lambda: model.get_stimulus_pdf(data, p["srange"], pars,
                                                        omega=p["omega"]), out)
    values = post.to_numpy()
    mean = values @ p["srange"] / values.sum(1)
    out["r"] = float(np.corrcoef(mean, p["stimuli"])[0, 1])
    return out


def _worker(spec: str) -> None:
    job = json.loads(spec)
    run = _ours if job["who"] == "xneuro" else _peer
    try:
        result = run(job["n_voxels"], job["iterations"])
    except Exception as error:  # reported in the table, not raised
        result = {"error": f"{type(error).__name__}: {error}"[:200]}
    print("RESULT " + json.dumps(result))


# ---------------------------------------------------------------- the table
def _spawn(who: str, n_voxels: int, iterations: int, python: str, path: str | None,
           timeout: float) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    spec = json.dumps({"who": who, "n_voxels": n_voxels, "iterations": iterations})
    try:
        done = subprocess.run([python, __file__, "--worker", spec], capture_output=True,
                              text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}


def _cell(result: dict[str, Any], key: str, fmt: str) -> str:
    value = result.get(key)
    return "n/a" if value is None else format(value, fmt)


def main(argv: list[str] | None = None) -> None:
    """Run the sweep and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 voxels only (< 60 s)")
    parser.add_argument("--voxels", type=int, nargs="*", default=None)
    parser.add_argument("--iterations", type=int, default=100, help="Adam steps per fit")
    parser.add_argument("--peer-python", default=None, help="python with tensorflow(-probability)")
    parser.add_argument("--peer-path", default=None, help="directory holding braincoder/")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", default=None, help="write the rows here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return
    sizes = args.voxels or ([100] if args.quick else [100, 300, 1000])
    peer = args.peer_python and args.peer_path and Path(args.peer_path, "braincoder").is_dir()
    columns = [("fit_s_1", "fit 1st s", ".2f"), ("fit_s_2", "fit 2nd s", ".2f"),
               ("fit_cpu_2", "2nd cpu", ".2f"), ("fit_ms_iter", "ms/iter", ".1f"),
               ("fit_mb_1", "MB 1st", ".0f"), ("fit_mb_2", "MB 2nd", ".0f"),
               ("pdf_s_1", "pdf 1st s", ".2f"), ("pdf_s_2", "pdf 2nd s", ".3f"),
               ("pdf_cpu_2", "2nd cpu", ".2f"), ("pdf_mb_1", "MB 1st", ".0f"),
               ("pdf_mb_2", "MB 2nd", ".0f"), ("r", "r(mean)", ".3f")]
    header = f"{'voxels':>6} {'who':>10} | " + " ".join(f"{t:>9}" for _, t, _ in columns) \
        + " | load"
    print(f"ResidualFitter ({args.iterations} Adam steps) and get_stimulus_pdf: "
          f"{N_TIME} timepoints x {N_STIM} stimulus values; 1st call includes compilation")
    print(header)
    print("-" * len(header))
    rows = []
    for n_voxels in sizes:
        for who in ("xneuro", "braincoder"):
            if who == "braincoder" and not peer:
                result = {"error": "peer not installed (see --peer-python, --peer-path)"}
            else:
                python = sys.executable if who == "xneuro" else args.peer_python
                result = _spawn(who, n_voxels, args.iterations, python,
                                None if who == "xneuro" else args.peer_path, args.timeout)
            if "fit_s_2" in result:
                result["fit_ms_iter"] = 1000 * result["fit_s_2"] / args.iterations
            load = os.getloadavg()[0]
            cells = " ".join(f"{_cell(result, key, fmt):>9}" for key, _, fmt in columns)
            print(f"{n_voxels:>6} {who:>10} | {cells} | {load:.1f}"
                  + (f"  ({result['error']})" if "error" in result else ""), flush=True)
            rows.append({"n_voxels": n_voxels, "who": who, "load": load, **result})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
