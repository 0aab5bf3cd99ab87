"""Benchmark: neural-mass simulation (xneuro.mass) beside brainmass and neurolib.

Work (as in the reference notes): N=80 regions, W ~ U[0, 1) (default_rng(0)),
zero diagonal, scaled to a mean in-strength of 1; diffusive coupling (Hopf
k=0.1 on x, Jansen-Rit k=1 on its source), 10 s at dt = 0.1 ms (100,000
Euler steps), float32; the coupled variable recorded every 1 ms (single runs)
or its time-std reduced on the worker (sweeps). Variants: with delays (tract
lengths U(0, 100) mm, 20 m/s) and with OU noise. Sweeps of 64 and 1024
coupling values run as batched chunks of 64 points, on 1 and 2 dask workers.

Peers run in a scratch virtualenv (``--peer-python``, default
/tmp/peer-mass/bin/python) on the same work; without one, the reference
figures are printed and marked "recorded". Other jobs may share the CPU:
the load average is printed beside every timing.

Usage: ``python benchmarks/bench_mass.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import textwrap
import time

import numpy as np

RECORDED = {  # seconds, from the reference notes (2-core Xeon, load 1.5-2.7)
    ("brainmass", "hopf", "single"): (1.33, "own jit+for_loop, repeat"),
    ("brainmass", "hopf", "sweep64"): (105.1, "vmap 64, in-loop decimation, 1st call"),
    ("brainmass", "jr", "single"): (1.29, "own jit, repeat"),
    ("brainmass", "jr", "sweep64"): (124.3, "vmap 64 (Simulator)"),
    ("brainmass", "hopf+ou", "single"): (6.93, "OU noise on x,y, repeat"),
    ("neurolib", "hopf", "single"): (3.28, "numba, float64, repeat"),
    ("neurolib", "hopf+delay", "single"): (3.16, "lengths U(0,100) mm, 20 m/s, repeat"),
}


def network(n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    W = rng.uniform(0, 1, (n, n))
    np.fill_diagonal(W, 0)
    W /= W.sum(1).mean()
    lengths = rng.uniform(0, 100, (n, n))
    return W, (lengths + lengths.T) / 2


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def case(model_name: str, delays: bool, noise: bool):
    from xneuro import mass

    if model_name == "hopf":
        model, coupling = mass.Hopf(), mass.Diffusive(k=0.1)
    else:
        model, coupling = mass.JansenRit(), mass.Diffusive(k=1.0)
    kw = {"coupling": coupling, "delays": delays, "speed": 20.0 if delays else None,
              "noise": mass.OUNoise(sigma=0.01, states=model.noise_states[:1]) if noise else None,
              "variables": [model.states[0]], "check_stability": False}
    return model, kw


def run_single(n: int, duration: float, model_name: str, delays: bool, noise: bool) -> dict:
    from xneuro import mass

    W, lengths = network(n)
    conn = {"weights": W, "lengths": lengths}
    import xarray as xr

    ds = xr.Dataset({k: (("region", "region_"), v) for k, v in conn.items()})
    model, kw = case(model_name, delays, noise)
    t0 = time.perf_counter()
    mass.simulate(ds, model, duration, 1e-4, sample_every=1e-3, **kw)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    mass.simulate(ds, model, duration, 1e-4, sample_every=1e-3, **kw)
    repeat = time.perf_counter() - t0
    return {"first": first, "repeat": repeat, "load": load()}


def run_sweep(points: int, workers: int, duration: float, model_name: str, delays: bool,
              noise: bool) -> dict:
    import dask
    import xarray as xr

    import xneuro
    from xneuro import mass

    W, lengths = network(80)
    ds = xr.Dataset({"weights": (("region", "region_"), W),
                     "lengths": (("region", "region_"), lengths)})
    model, kw = case(model_name, delays, noise)
    sweep = {"k": np.linspace(0.0, 0.2 if model_name == "hopf" else 2.0, points)}

    def go() -> float:
        t0 = time.perf_counter()
        sim = mass.simulate(ds, model, duration, 1e-4, sample_every=1e-2, sweep=sweep,
                            lazy=True, points_per_chunk=64, **kw)
        sim[model.states[0]].std("time").compute()
        return time.perf_counter() - t0

    if workers == 0:  # in this process, dask's local threaded scheduler
        first = go()
        return {"first": first, "repeat": go(), "load": load()}
    with xneuro.cluster(n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=None) as client, dask.config.set(scheduler=client):
        first = go()
        repeat = go() if points <= 64 else float("nan")
    return {"first": first, "repeat": repeat, "load": load()}


PEER_SCRIPT = textwrap.dedent('''
    import json, sys, time, numpy as np
    which, model_name, duration, delays, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1", int(sys.argv[5])
    rng = np.random.default_rng(0); n = 80
    W = rng.uniform(0, 1, (n, n)); np.fill_diagonal(W, 0); W /= W.sum(1).mean()
    L = rng.uniform(0, 100, (n, n)); L = (L + L.T) / 2
    out = {}
    if which == "neurolib":
        from neurolib.models.hopf import HopfModel
        m = HopfModel(Cmat=W, Dmat=L if delays else np.zeros_like(W))
        m.params["duration"] = duration * 1000; m.params["dt"] = 0.1; m.params["K_gl"] = 0.1
        m.params["signalV"] = 20.0
        for key in ("first", "repeat"):
            t0 = time.perf_counter(); m.run(); out[key] = time.perf_counter() - t0
    else:
        import jax, jax.numpy as jnp, brainstate, brainunit as u, brainmass
        brainstate.environ.set(dt=0.1 * u.ms)
        steps = int(round(duration * 1e4))
        def simulate(k):
            node = brainmass.HopfStep(n, a=0.25, w=0.2)
            node.init_all_states()
            Wj = jnp.asarray(W, jnp.float32)
            def step(i):
                x = node.x.value
                c = k * (Wj @ x - Wj.sum(1) * x)
                node.update(c)
                return node.x.value
            xs = brainstate.transform.for_loop(step, jnp.arange(steps))
            return xs[::10]
        if batch == 1:
            f = jax.jit(simulate)
            for key in ("first", "repeat"):
                t0 = time.perf_counter(); jax.block_until_ready(f(jnp.float32(0.1))); out[key] = time.perf_counter() - t0
        else:
            ks = jnp.linspace(0, 0.2, batch)
            f = jax.jit(jax.vmap(lambda k: simulate(k).std(0)))
            t0 = time.perf_counter(); jax.block_until_ready(f(ks)); out["first"] = time.perf_counter() - t0
    print("RESULT" + json.dumps(out))
''')


def run_peer(python: str, which: str, model_name: str, duration: float, delays: bool,
             batch: int, timeout: float) -> dict | None:
    if not os.path.exists(python):
        return None
    try:
        proc = subprocess.run([python, "-c", PEER_SCRIPT, which, model_name, str(duration),
                               "1" if delays else "0", str(batch)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return {**json.loads(line[6:]), "load": load()}
    return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}


def rate(steps: int, regions: int, points: int, seconds: float) -> str:
    return f"{steps * regions * points / seconds:.3g}" if seconds == seconds else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smallest sizes only: 1 s runs, one 64-point sweep in-process")
    parser.add_argument("--peer-python", default="/tmp/peer-mass/bin/python",
                        help="python of a scratch venv with brainmass and neurolib")
    parser.add_argument("--no-peers", action="store_true", help="print recorded peer figures")
    parser.add_argument("--peer-timeout", type=float, default=300.0)
    parser.add_argument("--json", help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    duration = 1.0 if args.quick else 10.0
    steps = round(duration / 1e-4)
    rows: list[dict] = []

    def add(who: str, what: str, points: int, workers: int, res: dict | None, note: str = ""):
        if res is None:
            return
        if "error" in res:
            print(f"{who:<10} {what:<28} {points:>6} {workers:>3}  {res['error']}")
            return
        res = {"repeat": float("nan"), **res}
        best = res["repeat"] if res["repeat"] == res["repeat"] else res["first"]
        row = {"who": who, "what": what, "points": points, "workers": workers, **res,
               "steps_regions_points_per_s": rate(steps, 80, points, best), "note": note}
        rows.append(row)
        rep = res["repeat"]
        print(f"{who:<10} {what:<28} {points:>6} {workers:>3} {res['first']:>9.2f} "
              f"{rep:>9.2f} {row['steps_regions_points_per_s']:>12} {res.get('load', '-'):>14} "
              f"{note}")

    print(f"neural mass benchmark: N=80, {duration:g} s at dt=0.1 ms ({steps} steps), float32")
    print(f"{'who':<10} {'what':<28} {'points':>6} {'wrk':>3} {'first_s':>9} {'repeat_s':>9} "
          f"{'stp*reg*pt/s':>12} {'load 1/5/15':>14} note")
    variants = [("hopf", False, False), ("hopf", True, False), ("hopf", False, True),
                ("jr", False, False), ("jr", True, True)]
    if args.quick:
        variants = [("hopf", False, False), ("jr", False, False)]
    for model_name, delays, noise in variants:
        label = model_name + ("+delay" if delays else "") + ("+ou" if noise else "")
        add("xneuro", f"{label} single", 1, 1, run_single(80, duration, model_name, delays, noise))
    sweeps = [(64, 0)] if args.quick else [(64, 1), (64, 2), (1024, 1), (1024, 2)]
    for model_name, delays, noise in variants[: 1 if args.quick else len(variants)]:
        label = model_name + ("+delay" if delays else "") + ("+ou" if noise else "")
        for points, workers in sweeps:
            if points == 1024 and (delays or noise):
                continue  # the 1024-point sweeps run on the plain models
            add("xneuro", f"{label} sweep", points, workers,
                run_sweep(points, workers, duration, model_name, delays, noise))

    print("\nregion-count sweep (xneuro Hopf single run, repeat):")
    for n in ([20, 80] if args.quick else [20, 80, 320]):
        res = run_single(n, duration, "hopf", False, False)
        print(f"  N={n:<4} {res['repeat']:.3f} s  {steps * n / res['repeat']:.3g} "
              f"steps*regions/s  load {res['load']}")

    print("\npeers:")
    peers_live = not args.no_peers and not args.quick and os.path.exists(args.peer_python)
    if peers_live:
        add("neurolib", "hopf single", 1, 1,
            run_peer(args.peer_python, "neurolib", "hopf", duration, False, 1, args.peer_timeout))
        add("neurolib", "hopf+delay single", 1, 1,
            run_peer(args.peer_python, "neurolib", "hopf", duration, True, 1, args.peer_timeout))
        add("brainmass", "hopf single", 1, 1,
            run_peer(args.peer_python, "brainmass", "hopf", duration, False, 1,
                     args.peer_timeout))
        add("brainmass", "hopf sweep (vmap)", 64, 1,
            run_peer(args.peer_python, "brainmass", "hopf", duration, False, 64,
                     args.peer_timeout))
    if not peers_live or not any(r["who"] != "xneuro" for r in rows):
        for (who, what, kind), (seconds, note) in RECORDED.items():
            points = 64 if kind == "sweep64" else 1
            print(f"{who:<10} {what + ' ' + kind:<28} {points:>6} {1:>3} {'':>9} {seconds:>9.2f} "
                  f"{rate(100_000, 80, points, seconds):>12} {'recorded':>14} {note}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MB (dask workers not included)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(rows, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
