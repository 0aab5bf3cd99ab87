"""Benchmark: RDMs, RDM comparison, DnnProbe and voxelwise ridge beside rsatoolbox, scikit-learn, himalaya.

Work (random data from the same seed in our process and the peer's):

- ``rdm euclidean``: rsatoolbox's euclidean RDM (squared distance / n
  features) of n items x 50,176 features (AlexNet conv5), condensed, as
  ``xneuro.rsa.rdm(..., metric="sqeuclidean", per_feature=True,
  form="condensed")`` and ``rsatoolbox.rdm.calc_rdm(Dataset(x),
  method="euclidean")``. Dtype policy, the same on both sides: float64
  patterns up to 2000 items, float32 patterns at 10,000 items (4 GB of float64
  patterns, plus rsatoolbox's squared copy, would not fit beside other jobs);
  each library computes in the dtype it is given. ``(dask)``: the same
  patterns as a dask array in 2500-item chunks (ours only).
- ``rdm correlation``: correlation distance; rsatoolbox's is not run at
  10,000 items (its ``einsum`` takes about 25 times its 2000-item time).
- ``compare``: Spearman comparison of two 500-item RDMs with item-label
  permutations; peer: the scipy loop of dnnbrain's ``permutation_RSA``
  (permute, squareform, ``spearmanr``) on a subset of the permutations,
  extrapolated (noted).
- ``probe``: DnnProbe univariate ``glm`` (cv=5) over 256 channels of 14 x 14
  positions (``iter_axis="channel"``); peer: scikit-learn ``cross_val_score``
  of ``LinearRegression`` per unit (what dnnbrain runs) on 2 channels (80
  units of one at ``--size small``), extrapolated (noted).
- ``ridge``: cross-validated ridge, 2000 stimuli x 1000 features to v voxels,
  21 alphas, 5 folds, one alpha per voxel; peer: ``himalaya.ridge.RidgeCV``
  (numpy backend, float32, same alphas and folds).

dnnbrain's own figures come from the reference notes (``recorded`` rows:
another machine, another load). Every case runs in a fresh subprocess, ours
with this python and the peers' with ``--peer-python`` (or
``$XNEURO_PEER_PYTHON_RSA`` / ``$XNEURO_PEER_PYTHON``: a scratch venv with
``rsatoolbox himalaya scikit-learn``), both with the same BLAS thread count
(``--threads``, default 1: other jobs share this machine's CPUs, and idle
BLAS threads spinning beside them mislead; the dask row gets as many dask
threads). Times are the harness's: one warm-up call, then the median of
``--repeat`` calls (one call after the warm-up for the 10,000-item RDMs and
the 100,000-voxel ridge; a single call for the extrapolated peers and
rsatoolbox's correlation from 2000 items); the CPU seconds of the same calls
are in every row's note, the 1-minute load average in its own column. With one
BLAS thread on a shared machine, CPU seconds are the steadier comparison.
Memory is the peak growth of the resident set during the first call. At
``--size small`` each python runs all its cases in one interpreter (imports
would otherwise take most of the minute); larger sizes use one per case.

Usage::

    python benchmarks/bench_rsa.py --size small          # < 60 s
    python benchmarks/bench_rsa.py --size medium --only rdm --json rsa.json
    python benchmarks/bench_rsa.py --threads 2 --rdm-items 10000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N_FEATURE = 50_176
ALPHAS = np.logspace(-2, 8, 21)

#: dnnbrain's figures in the reference notes (wall seconds, another machine).
RECORDED = [
    # (case, size, seconds, note)
    ("rdm euclidean", "500 x 50176 float64", 4.8, "dnnbrain dnn_rsa (scipy pdist), whole layer"),
    ("rdm correlation", "500 x 50176 float64", 5.5, "dnnbrain dnn_rsa (scipy pdist), whole layer"),
    ("compare spearman + permutations", "500 items, 1000 permutations", 58.0,
     "dnnbrain brain/rsa.RSA permutation: 5.8 s for 100 iterations, x10"),
    ("probe uv glm cv=5", "2000 stim x 256 ch x 14 x 14", 595.2,
     "dnnbrain DnnProbe uv glm 'channel': 37.2 s for 16 channels, x16"),
]

#: rsatoolbox figures in the reference notes, shown only when it cannot be run here.
RECORDED_PEER = [
    ("rdm euclidean", "500 x 50176 float64", 0.29, "rsatoolbox 0.3.2 calc_rdm, reference notes"),
    ("rdm correlation", "500 x 50176 float64", 13.3, "rsatoolbox 0.3.2 calc_rdm, reference notes"),
]


# ---------------------------------------------------------------- the workers
def _harness() -> Any:
    """The harness module, loaded from its file (the peers' venv has no xneuro)."""
    spec = importlib.util.spec_from_file_location(
        "_xneuro_bench_harness", ROOT / "xneuro" / "bench" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _patterns(n: int, p: int, dtype: str, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, p), dtype=np.float32).astype(dtype)


def _rdm_ours(job: dict) -> tuple[Any, dict]:
    import dask
    import xarray as xr

    import xneuro.rsa as rsa

    x = _patterns(job["n"], job["p"], job["dtype"])
    euclid = job["metric"] == "euclidean"

    def op() -> np.ndarray:
        da = xr.DataArray(x, dims=("stimulus", "unit"))
        if job.get("chunk"):  # dask's threads: as many as the BLAS threads of the others
            da = da.chunk({"stimulus": job["chunk"]})
        with dask.config.set(scheduler="threads", num_workers=job["threads"]):
            return rsa.rdm(da, metric="sqeuclidean" if euclid else "correlation",
                           per_feature=euclid, form="condensed").values

    return op, {"flops": float(job["n"]) ** 2 * job["p"]}


def _rdm_rsatoolbox(job: dict) -> tuple[Any, dict]:
    import rsatoolbox

    x = _patterns(job["n"], job["p"], job["dtype"])

    def op() -> np.ndarray:
        data = rsatoolbox.data.Dataset(x)
        return rsatoolbox.rdm.calc_rdm(data, method=job["metric"]).dissimilarities[0]

    return op, {"flops": float(job["n"]) ** 2 * job["p"]}


def _compare_inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(0)
    return pdist(rng.standard_normal((n, 20))), pdist(rng.standard_normal((n, 20)))


def _compare_ours(job: dict) -> tuple[Any, dict]:
    import xneuro.rsa as rsa

    a, b = _compare_inputs(job["n"])

    def op() -> np.ndarray:
        out = rsa.compare(a, b, "spearman", inference="permutation", n_iter=job["n_perm"],
                          seed=0, progress=False)
        return np.array([float(out.score)])

    return op, {}


def _compare_scipy(job: dict) -> tuple[Any, dict]:
    from scipy import stats
    from scipy.spatial.distance import squareform

    a, b = _compare_inputs(job["n"])
    square = squareform(b)
    perm_rng = np.random.default_rng(1)

    def op() -> np.ndarray:
        score = stats.spearmanr(a, b).statistic
        for _ in range(job["n_run"]):
            k = perm_rng.permutation(job["n"])
            stats.spearmanr(a, squareform(square[np.ix_(k, k)], checks=False))
        return np.array([score])

    return op, {"scale": job["n_perm"] / job["n_run"]}


def _probe_data(job: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    act = rng.standard_normal((job["n"], job["channels"], 14, 14), dtype=np.float32)
    beh = act[:, 3, 5, 7] + rng.standard_normal(job["n"]).astype(np.float32)
    return act, beh


def _probe_ours(job: dict) -> tuple[Any, dict]:
    from xneuro.dnn.probe import DnnProbe

    act, beh = _probe_data(job)

    def op() -> np.ndarray:
        out = DnnProbe({"conv5": act}, "uv", "glm", cv=5).probe(beh, "channel")["conv5"]
        return np.asarray(out["score"][3, 0], dtype=float).ravel()

    return op, {}


def _probe_sklearn(job: dict) -> tuple[Any, dict]:
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import cross_val_score

    act, beh = _probe_data(job)

    def op() -> np.ndarray:
        best = np.zeros(5)
        for c in (3, 4)[: job["n_run"]]:
            x = act[:, c].reshape(job["n"], -1).astype(np.float64)
            for u in range(job["n_units"]):
                score = cross_val_score(LinearRegression(), x[:, [u]], beh, cv=5)
                if c == 3 and u == 5 * 14 + 7:
                    best = score
        return best

    return op, {"scale": job["channels"] * 14 * 14 / (job["n_run"] * job["n_units"])}


def _ridge_data(job: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((job["n"], job["p"]), dtype=np.float32)
    y = x[:, :50] @ rng.standard_normal((50, job["v"]), dtype=np.float32)
    y += 5 * rng.standard_normal((job["n"], job["v"]), dtype=np.float32)
    return x, y


def _ridge_ours(job: dict) -> tuple[Any, dict]:
    import xarray as xr

    from xneuro.encoding.ridge import fit_ridge

    x, y = _ridge_data(job)

    def op() -> np.ndarray:
        out = fit_ridge(xr.DataArray(x, dims=("stimulus", "feature")),
                        xr.DataArray(y, dims=("stimulus", "voxel")), alphas=ALPHAS,
                        dtype="float32", progress=False)
        return out["alpha"].values[:500]

    return op, {}


def _ridge_himalaya(job: dict) -> tuple[Any, dict]:
    from himalaya.ridge import RidgeCV

    x, y = _ridge_data(job)

    def op() -> np.ndarray:
        return np.asarray(RidgeCV(alphas=ALPHAS, cv=5, fit_intercept=True).fit(x, y)
                          .best_alphas_)[:500]

    return op, {}


TASKS = {"rdm_ours": _rdm_ours, "rdm_rsatoolbox": _rdm_rsatoolbox,
         "compare_ours": _compare_ours, "compare_scipy": _compare_scipy,
         "probe_ours": _probe_ours, "probe_sklearn": _probe_sklearn,
         "ridge_ours": _ridge_ours, "ridge_himalaya": _ridge_himalaya}


def _run_job(harness: Any, job: dict) -> dict:
    """Time one task: the harness's warm-up + median, plus CPU seconds and a check vector."""
    op, extra = TASKS[job["task"]](job)
    cpu: list[float] = []
    last: list[Any] = []

    def timed() -> None:
        start = time.process_time()
        last[:] = [op()]
        cpu.append(time.process_time() - start)

    warmup = job.get("warmup", True)  # the extrapolated peers run once, without a warm-up
    timing = harness.measure(timed, repeat=job["repeat"], warmup=warmup)
    scale = extra.get("scale", 1.0)
    result = {"seconds": timing.seconds * scale, "first_seconds": timing.first_seconds * scale,
              "repeats": timing.repeats, "mb": timing.peak_host_mb, "load": timing.load,
              "cpu": statistics.median(cpu[1:] if warmup else cpu) * scale,
              "check": np.asarray(last[0], dtype=float).ravel()[:500].tolist()}
    if "flops" in extra:
        peak = harness.gemm_peak_flops(1024, job.get("dtype", "float32"))
        result["throughput"] = extra["flops"] / timing.seconds / 1e9
        result["hw_fraction"] = extra["flops"] / timing.seconds / peak
    if scale != 1.0:
        result["extrapolated"] = scale
    return result


def _worker(spec: str) -> None:
    """Run a list of jobs in this (fresh) interpreter; print ``RESULT {json}`` after each."""
    harness = _harness()
    for job in json.loads(spec):
        try:
            result = _run_job(harness, job)
        except Exception as error:  # reported in the table, not raised
            result = {"error": f"{type(error).__name__}: {error}"[:160]}
        print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------ the driver
def _spawn(python: str, jobs: list[dict], threads: int, timeout: float) -> list[dict]:
    """Run ``jobs`` in one fresh interpreter ``python``; one result (or error) per job."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"),
                             str(threads)))
    try:
        done = subprocess.run([python, __file__, "--worker", json.dumps(jobs)],
                              capture_output=True, text=True, timeout=timeout, env=env)
        stdout, stderr = done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        stdout, stderr = expired.stdout or "", f"timed out after {timeout:.0f} s"
        stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
        stderr = stderr if isinstance(stderr, str) else stderr.decode()
    results = [json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")]
    reason = (stderr.strip().splitlines() or ["no output"])[-1][:160]
    return results + [{"error": reason}] * (len(jobs) - len(results))


def sweep(size: str, rdm_items: list[int] | None, repeat: int) -> list[dict]:
    """The cases at one size: dicts with the case, size, and our and the peer's jobs."""
    small = size == "small"
    cases = []
    p = 10_000 if small else N_FEATURE
    for n in rdm_items or ([500] if small else [500, 2000, 10_000]):
        dtype = "float32" if n >= 10_000 else "float64"
        rep = 1 if n >= 10_000 else repeat
        for metric in ("euclidean", "correlation"):
            job = {"n": n, "p": p, "dtype": dtype, "metric": metric, "repeat": rep}
            peer = None if n >= 10_000 and metric == "correlation" else "rdm_rsatoolbox"
            peer_job = job  # its correlation takes minutes from 2000 items: one call
            if metric == "correlation" and n >= 2000:
                peer_job = {**job, "repeat": 1, "warmup": False}
            cases.append({"kind": "rdm", "case": f"rdm {metric}", "size": f"{n} x {p} {dtype}",
                          "ours": ("rdm_ours", job), "peer": (peer, peer_job),
                          "peer_name": "rsatoolbox"})
            if n >= 10_000 and metric == "euclidean":
                cases.append({"kind": "rdm", "case": "rdm euclidean (dask, 2500-item chunks)",
                              "size": f"{n} x {p} {dtype}",
                              "ours": ("rdm_ours", {**job, "chunk": 2500}), "peer": None})
    n_perm = 200 if small else 1000
    cases.append({"kind": "compare", "case": "compare spearman + permutations",
                  "size": f"500 items, {n_perm} permutations",
                  "ours": ("compare_ours", {"n": 500, "n_perm": n_perm, "repeat": repeat}),
                  "peer": ("compare_scipy", {"n": 500, "n_perm": n_perm, "repeat": 1,
                                             "warmup": False, "n_run": 20 if small else 100}),
                  "peer_name": "scipy loop", "local_peer": True})
    n_stim, channels = (500, 32) if small else (2000, 256)
    job = {"n": n_stim, "channels": channels, "repeat": repeat}
    cases.append({"kind": "probe", "case": "probe uv glm cv=5",
                  "size": f"{n_stim} stim x {channels} ch x 14 x 14",
                  "ours": ("probe_ours", job),
                  "peer": ("probe_sklearn", {**job, "repeat": 1, "warmup": False,
                                             "n_run": 1 if small else 2,
                                             "n_units": 80 if small else 196}),
                  "peer_name": "scikit-learn"})
    n, p = (1000, 500) if small else (2000, 1000)
    for v in [1000] if small else [10_000, 100_000]:
        job = {"n": n, "p": p, "v": v, "repeat": 1 if v >= 100_000 else repeat}
        cases.append({"kind": "ridge", "case": "ridge CV (21 alphas, 5 folds)",
                      "size": f"{v} voxels x {n} stim x {p} feat",
                      "ours": ("ridge_ours", job), "peer": ("ridge_himalaya", job),
                      "peer_name": "himalaya"})
    return cases


def _agreement(ours: dict, peer: dict, kind: str) -> str:
    if "check" not in ours or "check" not in peer:
        return ""
    a, b = np.asarray(ours["check"]), np.asarray(peer["check"])
    if a.shape != b.shape:
        return "outputs differ in shape"
    if kind == "ridge":
        return f"same alpha on {np.mean(np.isclose(a, b, rtol=1e-3)):.0%} of voxels"
    return f"max |ours - peer| {np.max(np.abs(a - b)):.1e}"


def _row(harness: Any, case: dict, who: str, result: dict, threads: int, note: str = "") -> Any:
    if "error" in result:
        return harness.Result("rsa", case["case"], case["size"], who, float("nan"),
                              note=result["error"])
    extra = f"extrapolated x{result['extrapolated']:g} from a subset; " \
        if "extrapolated" in result else ""
    return harness.Result(
        "rsa", case["case"], case["size"], who, result["seconds"],
        first_seconds=result["first_seconds"], repeats=result["repeats"],
        throughput=result.get("throughput"), unit="GFLOP/s (n^2 p)" if "throughput" in result
        else None, hw_fraction=result.get("hw_fraction"), peak_host_mb=result["mb"],
        load=result["load"],
        note=f"{extra}cpu {result['cpu']:.2f} s, {threads} BLAS thread(s){'; ' if note else ''}"
             f"{note}")


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table (``--json`` writes it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    if argv is None and "--worker" in sys.argv:  # the workers need no xneuro (peers' venv)
        _worker(parser.parse_known_args()[0].worker)
        return 0
    sys.path.insert(0, str(ROOT))
    from xneuro.bench import harness

    harness.add_arguments(parser)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads of every run, ours and the peers' (default 1)")
    parser.add_argument("--rdm-items", type=int, action="append",
                        help="RDM item counts to run (default: 500 small; 500, 2000, 10000)")
    parser.add_argument("--only", action="append",
                        choices=("rdm", "compare", "probe", "ridge"), help="run only these")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per case")
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return 0
    reason = harness.require_device(args.device)
    if reason or args.device != "cpu":
        print(reason or "bench_rsa runs on the CPU only; skipping --device cuda")
        return 0
    peer_python = harness.peer_python(args, "rsa")
    print(f"load average at start: {os.getloadavg()}; cpus: {os.cpu_count()}; BLAS threads "
          f"per run: {args.threads}; peer python: {peer_python or 'none (recorded figures only)'}",
          flush=True)
    cases = [c for c in sweep(args.size, args.rdm_items, args.repeat)
             if not args.only or c["kind"] in args.only]
    # (python, job) per role; small sizes run each python's jobs in one interpreter (imports
    # would take most of the minute), larger ones one interpreter per job (clean memory)
    plan: list[tuple[int, str, str | None, dict | None]] = []
    for k, case in enumerate(cases):
        plan.append((k, "ours", sys.executable, {"task": case["ours"][0], **case["ours"][1],
                                                 "threads": args.threads}))
        task, job = case["peer"] or (None, None)
        if task:
            python = sys.executable if case.get("local_peer") else peer_python
            plan.append((k, "peer", python, {"task": task, **job, "threads": args.threads}))
    outcome: dict[tuple[int, str], dict] = {}
    pythons = list(dict.fromkeys(py for _, _, py, _ in plan if py))
    batches = [[e for e in plan if e[2] == py] for py in pythons] if args.size == "small" \
        else [[e] for e in plan if e[2]]
    for batch in batches:
        done = _spawn(batch[0][2], [e[3] for e in batch], args.threads, args.timeout)
        for (k, role, _, _), result in zip(batch, done, strict=True):
            outcome[k, role] = result
            print(f"{cases[k]['case']:<40} {cases[k]['size']:<36} {role:<5} "
                  f"{result.get('seconds', float('nan')):9.3f} s  cpu "
                  f"{result.get('cpu', float('nan')):9.3f} s  (load {os.getloadavg()[0]:.1f})"
                  + (f"  {result['error']}" if "error" in result else ""), flush=True)
    results = []
    measured_peer = set()
    for k, case in enumerate(cases):
        ours = outcome[k, "ours"]
        results.append(_row(harness, case, "xneuro", ours, args.threads))
        if (k, "peer") in outcome:
            peer = outcome[k, "peer"]
            measured_peer.add((case["case"], case["size"]))
            results.append(_row(harness, case, case["peer_name"], peer, args.threads,
                                _agreement(ours, peer, case["kind"])))
        elif case["peer"] and case["peer"][0]:
            results.append(harness.Result("rsa", case["case"], case["size"], case["peer_name"],
                                          float("nan"), note="not measured: no peer python "
                                          "(--peer-python)"))
        elif case["peer"]:
            results.append(harness.Result("rsa", case["case"], case["size"], "rsatoolbox",
                                          float("nan"), note="not run: its correlation einsum "
                                          "takes ~25x its 2000-item time"))
    sizes = {(r.case, r.size) for r in results}
    for case, size, seconds, note in RECORDED:
        if (case, size) in sizes:
            results.append(harness.Result("rsa", case, size, "dnnbrain", seconds,
                                          source="recorded", note=note))
    for case, size, seconds, note in RECORDED_PEER:
        if (case, size) in sizes and (case, size) not in measured_peer:
            results.append(harness.Result("rsa", case, size, "rsatoolbox", seconds,
                                          source="recorded", note=note))
    return harness.finish(results, args, title=(
        "RSA benchmark (vs xneuro = peer s / xneuro s; wall seconds, median after a warm-up; "
        "cpu seconds and BLAS threads in the notes)"))


if __name__ == "__main__":
    raise SystemExit(main())
