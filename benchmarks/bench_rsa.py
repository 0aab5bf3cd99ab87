"""Benchmark RSA, probing and voxelwise ridge against rsatoolbox, scikit-learn and himalaya.

Work (random float data, the same seed in our process and the peer's):

- ``rdm``: RDM of n items x 50,176 features (AlexNet conv5 size), correlation
  and rsatoolbox's euclidean (squared distance / n_features). xneuro:
  ``xneuro.rsa.rdm`` (Gram-matrix product; for 10k items the patterns are a
  dask array chunked on items); rsatoolbox: ``calc_rdm`` (its correlation is
  not run at 10k items: its ``einsum`` takes about 25 times its 2000-item time).
- ``compare``: Spearman comparison of two RDMs of 500 items with 1000 item-label
  permutations. xneuro: ``compare(..., inference="permutation")``; peer: the
  scipy loop that dnnbrain's ``permutation_RSA`` runs (permute, squareform,
  ``spearmanr``), on a subset of permutations, extrapolated (marked ``*``).
- ``probe``: DnnProbe univariate ``glm`` (cv=5) over 256 channels of 14 x 14
  positions (``iter_axis="channel"``, 50,176 one-unit regressions x 5 folds).
  Peer: scikit-learn ``cross_val_score(LinearRegression(), ...)`` per unit (what
  dnnbrain runs), on 2 channels, extrapolated (``*``).
- ``ridge``: cross-validated ridge, 2000 stimuli x 1000 features to v voxels,
  21 alphas, 5 folds, per-voxel alpha. Peer: ``himalaya.ridge.RidgeCV``
  (numpy backend, float32, same alphas and folds).

dnnbrain's own figures come from the reference notes (marked ``recorded``;
measured on another machine). Every measurement runs in a fresh subprocess;
memory is the peak RSS during the operation above the RSS before it; times are
wall and CPU seconds of the operation alone (imports and data excluded). The
1-minute load average is printed with every row: other jobs share the CPUs.
BLAS runs single-threaded by default on both sides (``--threads``).

Peers are run with ``--peer-python`` (default ``/tmp/peer-rsa/bin/python``, a
scratch venv: ``python -m venv /tmp/peer-rsa && /tmp/peer-rsa/bin/pip install
rsatoolbox himalaya scikit-learn``); without it their columns read "not measured".

``--quick`` runs one small size of each (RDM 500 items x 10,000 features,
probe on 500 stimuli, ridge 2000 voxels x 1000 stimuli x 500 features).

Usage::

    python benchmarks/bench_rsa.py --quick        # small sizes, < 60 s
    python benchmarks/bench_rsa.py                # the issue's sizes (long)
    python benchmarks/bench_rsa.py --json rsa.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

OURS = sys.executable
PEER = "/tmp/peer-rsa/bin/python"
N_FEATURE = 50_176

HARNESS = textwrap.dedent('''
    import json, os, sys, time
    import numpy as np

    def _kib(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def measure(op):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset the peak RSS to the current RSS
        except OSError:
            pass
        before = _kib("VmRSS")
        start, cpu = time.perf_counter(), time.process_time()
        out = op()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        global CPU
        CPU = cpu
        return seconds, max(_kib("VmHWM") - before, 0) / 1024, out

    CPU = 0.0
    P = json.loads(sys.argv[1])
    rng = np.random.default_rng(P.get("seed", 0))
''')

TASKS = {
    "rdm_ours": '''
        import xarray as xr
        import xneuro.rsa as rsa
        x = rng.standard_normal((P["n"], P["p"]), dtype=np.float32).astype(P["dtype"])
        da = xr.DataArray(x, dims=("stimulus", "unit"))
        if P.get("chunk"):
            da = da.chunk({"stimulus": P["chunk"]})
        metric = "sqeuclidean" if P["metric"] == "euclidean" else P["metric"]
        def op():
            return rsa.rdm(da, metric=metric, per_feature=True, form="condensed").values
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s, "cpu": CPU, "mb": mb, "check": out[:200].tolist()}))
    ''',
    "rdm_rsatoolbox": '''
        import rsatoolbox
        x = rng.standard_normal((P["n"], P["p"]), dtype=np.float32).astype(P["dtype"])
        def op():
            data = rsatoolbox.data.Dataset(x)
            return rsatoolbox.rdm.calc_rdm(data, method=P["metric"]).dissimilarities[0]
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s, "cpu": CPU, "mb": mb, "check": out[:200].tolist()}))
    ''',
    "compare_ours": '''
        from scipy.spatial.distance import pdist
        import xneuro.rsa as rsa
        a = pdist(rng.standard_normal((P["n"], 20)))
        b = pdist(rng.standard_normal((P["n"], 20)))
        def op():
            return rsa.compare(a, b, "spearman", inference="permutation", n_iter=P["n_perm"],
                               seed=0, progress=False)
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s, "cpu": CPU, "mb": mb, "check": [float(out.score)]}))
    ''',
    "compare_scipy": '''
        from scipy import stats
        from scipy.spatial.distance import pdist, squareform
        a = pdist(rng.standard_normal((P["n"], 20)))
        b = pdist(rng.standard_normal((P["n"], 20)))
        def op():
            square = squareform(b)
            r = stats.spearmanr(a, b).statistic
            null = []
            for _ in range(P["n_run"]):
                p = np.random.permutation(P["n"])
                null.append(stats.spearmanr(a, squareform(square[np.ix_(p, p)],
                                                             checks=False)).statistic)
            return r
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s * P["n_perm"] / P["n_run"],
                          "cpu": CPU * P["n_perm"] / P["n_run"], "mb": mb,
                          "check": [float(out)], "extrapolated": P["n_run"] < P["n_perm"]}))
    ''',
    "probe_ours": '''
        from xneuro.dnn.probe import DnnProbe
        act = rng.standard_normal((P["n"], P["channels"], 14, 14), dtype=np.float32)
        beh = act[:, 3, 5, 7] + rng.standard_normal(P["n"]).astype(np.float32)
        def op():
            return DnnProbe({"conv5": act}, "uv", "glm", cv=5).probe(beh, "channel")["conv5"]
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s, "cpu": CPU, "mb": mb, "check": out["score"][3, 0].tolist()}))
    ''',
    "probe_sklearn": '''
        from sklearn.linear_model import LinearRegression
        from sklearn.model_selection import cross_val_score
        act = rng.standard_normal((P["n"], P["channels"], 14, 14), dtype=np.float32)
        beh = act[:, 3, 5, 7] + rng.standard_normal(P["n"]).astype(np.float32)
        def op():
            best = None
            for c in (3, 4)[:P["n_run"]]:
                x = act[:, c].reshape(P["n"], -1).astype(np.float64)
                for u in range(x.shape[1]):
                    score = cross_val_score(LinearRegression(), x[:, [u]], beh, cv=5)
                    if c == 3 and u == 5 * 14 + 7:
                        best = score
            return best
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s * P["channels"] / P["n_run"],
                          "cpu": CPU * P["channels"] / P["n_run"], "mb": mb,
                          "check": out.tolist(), "extrapolated": True}))
    ''',
    "ridge_ours": '''
        import xarray as xr
        from xneuro.encoding.ridge import fit_ridge
        x = rng.standard_normal((P["n"], P["p"]), dtype=np.float32)
        y = x[:, :50] @ rng.standard_normal((50, P["v"]), dtype=np.float32)
        y += 5 * rng.standard_normal((P["n"], P["v"]), dtype=np.float32)
        alphas = np.logspace(-2, 8, 21)
        def op():
            return fit_ridge(xr.DataArray(x, dims=("stimulus", "feature")),
                             xr.DataArray(y, dims=("stimulus", "voxel")), alphas=alphas,
                             dtype="float32")
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s, "cpu": CPU, "mb": mb,
                          "check": out["alpha"].values[:500].tolist()}))
    ''',
    "ridge_himalaya": '''
        from himalaya.ridge import RidgeCV
        x = rng.standard_normal((P["n"], P["p"]), dtype=np.float32)
        y = x[:, :50] @ rng.standard_normal((50, P["v"]), dtype=np.float32)
        y += 5 * rng.standard_normal((P["n"], P["v"]), dtype=np.float32)
        alphas = np.logspace(-2, 8, 21)
        def op():
            return RidgeCV(alphas=alphas, cv=5, fit_intercept=True).fit(x, y)
        s, mb, out = measure(op)
        print(json.dumps({"seconds": s, "cpu": CPU, "mb": mb,
                          "check": np.asarray(out.best_alphas_)[:500].tolist()}))
    ''',
}

#: dnnbrain figures from the reference notes (another machine): seconds.
RECORDED = {
    ("rdm", 500, "euclidean"): 4.8,
    ("rdm", 500, "correlation"): 5.5,
    ("compare", 500): 5.8 * 10,  # RSA spearman permutation n_iter=100: 5.8 s, x10 for 1000
    ("probe", 256): 37.2 * 16,  # uv glm cv=5, 16 channels: 37.2 s (about 10 min for 256)
}


def run_task(python: str, task: str, params: dict, threads: int = 1,
             timeout: float = 3600) -> dict:
    """Run one task in a fresh interpreter; return its JSON result or an error."""
    if not Path(python).exists():
        return {"error": "not measured (no peer environment)"}
    code = HARNESS + textwrap.dedent(TASKS[task])
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.update(dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"),
                             str(threads)))
    try:
        done = subprocess.run([python, "-c", code, json.dumps(params)], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1][:120] if done.stderr else "failed"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def _agree(ours: dict, peer: dict, kind: str) -> str:
    if "check" not in ours or "check" not in peer:
        return ""
    import numpy as np

    a, b = np.asarray(ours["check"], float), np.asarray(peer["check"], float)
    if kind == "ridge":
        return f"same alpha {np.mean(np.isclose(a, b, rtol=1e-3)):.0%}"
    if kind == "compare":
        return "same data" if np.allclose(a, b, atol=1e-9) else "differs"
    return f"max diff {np.max(np.abs(a - b)):.1e}"


def sweep(quick: bool, rdm_items: list[int] | None = None) -> list[dict]:
    """The problem sizes: quick = the smallest of each."""
    rows = []
    for n in rdm_items or ([500] if quick else [500, 2000, 10000]):
        for metric in ("correlation", "euclidean"):
            dtype = "float32" if n >= 10000 else "float64"
            p = 10_000 if quick else N_FEATURE
            rows.append({"kind": "rdm", "size": f"{n} x {p} {metric} {dtype}",
                         "ours": ("rdm_ours", {"n": n, "p": p, "metric": metric,
                                               "dtype": dtype, "chunk": 2500 if n >= 10000
                                               else None}),
                         "peer": None if n >= 10000 and metric == "correlation" else (
                             "rdm_rsatoolbox", {"n": n, "p": p, "metric": metric,
                                                "dtype": dtype}),
                         "peer_name": "rsatoolbox",
                         "recorded": None if quick else RECORDED.get(("rdm", n, metric))})
    rows.append({"kind": "compare", "size": "500 items, spearman, 1000 permutations",
                 "ours": ("compare_ours", {"n": 500, "n_perm": 1000}),
                 "peer": ("compare_scipy", {"n": 500, "n_perm": 1000,
                                            "n_run": 20 if quick else 1000}),
                 "peer_name": "scipy loop", "recorded": RECORDED[("compare", 500)]})
    n_stim = 500 if quick else 2000
    rows.append({"kind": "probe", "size": f"uv glm cv=5, {n_stim} stim x 256 ch x 14 x 14",
                 "ours": ("probe_ours", {"n": n_stim, "channels": 256}),
                 "peer": ("probe_sklearn", {"n": n_stim, "channels": 256,
                                            "n_run": 1 if quick else 2}),
                 "peer_name": "scikit-learn", "recorded": RECORDED[("probe", 256)]
                 if n_stim == 2000 else None})
    n, p = (1000, 500) if quick else (2000, 1000)
    for v in ([2000] if quick else [10_000, 100_000]):
        rows.append({"kind": "ridge", "size": f"{v} voxels x {n} stim x {p} feat",
                     "ours": ("ridge_ours", {"n": n, "p": p, "v": v}),
                     "peer": ("ridge_himalaya", {"n": n, "p": p, "v": v}),
                     "peer_name": "himalaya", "recorded": None})
    return rows


def _fmt(result: dict) -> tuple[str, str]:
    """``wall/cpu`` seconds and MB of one run (``*``: extrapolated)."""
    if "error" in result:
        return result["error"][:44], ""
    star = "*" if result.get("extrapolated") else ""
    return f"{result['seconds']:.2f}/{result['cpu']:.2f}{star}", f"{result['mb']:.0f}"


def main(argv: list[str] | None = None) -> int:
    """Run the sweep and print the table (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes only (< 60 s)")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--peer-python", default=PEER, help="python of the peer environment")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads of every run, ours and the peers' (default 1: other "
                        "jobs share the CPUs, and busy-waiting BLAS threads then mislead)")
    parser.add_argument("--rdm-items", type=int, action="append",
                        help="RDM item counts to run (default 500, 2000, 10000)")
    parser.add_argument("--only", action="append", help="run only these kinds (rdm, compare, "
                        "probe, ridge)")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()}; cpus: {os.cpu_count()}; "
          f"BLAS threads per run: {args.threads}")
    header = (f"{'work':<8} {'size':<42} {'ours wall/cpu s':>16} {'MB':>5} {'peer':<13} "
              f"{'peer wall/cpu s':>17} {'MB':>5} {'speed-up':>8} {'dnnbrain s':>11} "
              f"{'load':>5}  agreement")
    print(header)
    print("-" * len(header))
    results = []
    for row in sweep(args.quick, args.rdm_items):
        if args.only and row["kind"] not in args.only:
            continue
        ours = run_task(OURS, *row["ours"], threads=args.threads)
        peer = (run_task(args.peer_python, *row["peer"], threads=args.threads) if row["peer"]
                else {"error": "not run (einsum: ~25x its 2000-item time)"})
        key = "cpu" if args.threads == 1 else "seconds"  # one thread: CPU time is the work
        speed = (f"{peer[key] / ours[key]:.1f}x" if key in ours and key in peer else "")
        rec = f"{row['recorded']:.1f} rec" if row["recorded"] else "-"
        (os_, om), (ps, pm) = _fmt(ours), _fmt(peer)
        print(f"{row['kind']:<8} {row['size']:<42} {os_:>16} {om:>5} {row['peer_name']:<13} "
              f"{ps:>17} {pm:>5} {speed:>8} {rec:>11} {ours.get('load', 0):>5.1f}  "
              f"{_agree(ours, peer, row['kind'])}", flush=True)
        results.append({**{k: row[k] for k in ("kind", "size", "peer_name", "recorded")},
                        "ours": {k: v for k, v in ours.items() if k != "check"},
                        "peer": {k: v for k, v in peer.items() if k != "check"}})
    print("speed-up = peer / ours, on CPU seconds with one BLAS thread (wall seconds otherwise); "
          "* extrapolated from a subset (see the module docstring); rec = dnnbrain figure "
          "recorded in the reference notes (another machine, wall seconds)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
