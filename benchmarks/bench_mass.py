"""Benchmark neural-mass simulation (xneuro.mass) beside brainmass and neurolib.

Work (as in the reference notes): N=80 regions, W ~ U[0, 1) (default_rng(0)),
zero diagonal, scaled to a mean in-strength of 1; diffusive coupling (Hopf
k=0.1 on x, Jansen-Rit k=1 on its firing rate), dt = 0.1 ms, Euler, float32;
the coupled variable recorded every 1 ms (single runs) or reduced to its
time-std on the worker (sweeps, every 10 ms). Variants: with conduction delays
(tract lengths U(0, 100) mm, 20 m/s) and with Ornstein-Uhlenbeck noise. Sweeps
over the coupling run as batched chunks of 64 points (one vmapped JAX program
each; fewer when there are fewer than 64 points per worker), on a Dask cluster.

Sizes
-----
- ``small`` (< 1 min): 1 s simulated (10,000 steps); single Hopf and
  Jansen-Rit runs, one 64-point Hopf sweep in-process; brainmass's hand-written
  loop on the same work when a peer python is given.
- ``medium`` (the issue's cases, about 10-15 min with peers on 2 busy cores):
  10 s simulated (100,000 steps); single runs of the five variants; sweeps of
  64 points (all variants) and 1,024 points (plain Hopf and Jansen-Rit) on 1
  and 2 workers; neurolib and both brainmass recipes.
- ``large``: ``medium`` plus 4,096-point sweeps of plain Hopf and Jansen-Rit
  and single runs of 320 and 1,280 regions (about 2x ``medium``).

Units and limits
----------------
Throughput is steps x regions x points per second. ``hw_fraction`` (Hopf
without delays): the FLOPs of the work (per step and point, the coupling
matrix-vector product ``2 N^2`` plus :data:`HOPF_NODE_FLOPS` per region for
the node update, coupling and Euler step; random numbers not counted) over
:func:`~xneuro.bench.harness.gemm_peak_flops` on the CPU (the larger of the
ceilings measured before and after the runs), or over the nominal
fp32 peak of an H100 (:data:`GPU_PEAK_FLOPS`, reference notes) on ``cuda``.

Peers
-----
Peers run in a scratch virtualenv named by ``--peer-python`` or
``$XNEURO_PEER_PYTHON_MASS`` (``python -m venv /tmp/peer-mass && pip install
brainmass neurolib``), one subprocess per case (import not timed; first call
and the median of the repeats reported):

- ``brainmass (jit loop)``: the hand-written recipe, ``jax.jit`` over
  ``brainstate.transform.for_loop`` of ``HopfStep.update(k * (W @ x - rowsum * x))``
  (one matrix-vector product per step), decimated inside the loop; sweeps are
  ``jax.vmap`` of it.
- ``brainmass (Simulator)``: the documented path, ``Simulator(Network(node,
  conn=W, ...)).run(...)`` (brainmass's per-connection coupling and delay
  buffer; every call retraces); sweeps vmap ``Simulator(node).run(inputs=...)``
  because a ``Network`` cannot be built under a trace.
- ``neurolib``: ``HopfModel`` (numba, float64) with and without delays.

Without a peer python the figures of the reference notes are printed as
``recorded`` rows (another 2-core machine and load).

``--device cuda`` runs xneuro's JAX engine on the GPU when JAX sees one (else
it prints why not and exits 0). ``--workers N`` runs the sweeps on a local
cluster of 1 and N workers, ``--scheduler ADDRESS`` on a running one; scaling
rows print their efficiency against 1 worker. Other jobs may share the CPUs:
every row carries the load average.

Usage::

    python benchmarks/bench_mass.py --size small
    python benchmarks/bench_mass.py --peer-python /tmp/peer-mass/bin/python --json mass.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np

from xneuro.bench.harness import (
    Result,
    add_arguments,
    finish,
    gemm_peak_flops,
    load_average,
    measure,
    peer_python,
    require_device,
)

BENCH = "mass"
UNIT = "steps x regions x points/s"
DT = 1e-4
#: FLOPs per region and step of the Hopf node beyond the coupling product (r^2: 3,
#: growth: 2, dx: 4, dy: 3, diffusive coupling: 3, two Euler updates: 4).
HOPF_NODE_FLOPS = 19
#: Nominal fp32 FLOP/s of an H100 (reference notes, berg.md section 9).
GPU_PEAK_FLOPS = 60e12
#: (who, case) -> (seconds of the repeat, first call or None, note); reference notes,
#: 2-core Xeon at load 1.5-2.7, 80 regions, 10 s at dt = 0.1 ms.
RECORDED = {
    ("brainmass (jit loop)", "hopf single"): (1.33, 1.73, "own jit+for_loop, every step kept"),
    ("brainmass (Simulator)", "hopf single"): (1.53, 1.74, "Simulator.run"),
    ("brainmass (jit loop)", "hopf+ou single"): (6.93, 6.62, "OU noise on x and y"),
    ("brainmass (jit loop)", "jr single"): (1.29, 1.97, "own jit, float32"),
    ("brainmass (Simulator)", "jr single"): (2.13, 1.62, "Simulator.run"),
    ("brainmass (jit loop)", "hopf sweep"): (122.2, 105.1, "vmap 64, decimated in the loop"),
    ("brainmass (Simulator)", "hopf sweep"): (float("nan"), 137.7,
                                              "Simulator inside vmap, load 4.6-5.4"),
    ("brainmass (Simulator)", "jr sweep"): (float("nan"), 124.3, "vmap 64 (Simulator)"),
    ("neurolib", "hopf single"): (3.28, 5.12, "numba, float64"),
    ("neurolib", "hopf+delay single"): (3.16, 2.65, "numba, float64"),
}
#: per size: simulated seconds, single-run variants, in-process sweeps and sweeps on the
#: cluster ({points: models, None = every variant}), region counts of the scaling runs
SIZES = {
    "small": {"duration": 1.0, "variants": [("hopf", False, False), ("jr", False, False)],
              "local_sweeps": {64: ["hopf"]}, "sweeps": {64: ["hopf"]}, "regions": [20]},
    "medium": {"duration": 10.0, "local_sweeps": {64: ["hopf", "jr"]},
               "sweeps": {64: None, 1024: ["hopf", "jr"]}, "regions": [20, 320]},
    "large": {"duration": 10.0, "local_sweeps": {64: ["hopf", "jr"]},
              "sweeps": {64: None, 1024: ["hopf", "jr"], 4096: ["hopf", "jr"]},
              "regions": [20, 320, 1280]},
}
VARIANTS = [("hopf", False, False), ("hopf", True, False), ("hopf", False, True),
            ("jr", False, False), ("jr", True, True)]


def label(model: str, delays: bool, noise: bool) -> str:
    """Case label: ``hopf``, ``hopf+delay``, ``jr+delay+ou``, ..."""
    return model + ("+delay" if delays else "") + ("+ou" if noise else "")


def network(n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark connectome: weights (mean in-strength 1) and symmetric lengths (mm)."""
    rng = np.random.default_rng(0)
    weights = rng.uniform(0, 1, (n, n))
    np.fill_diagonal(weights, 0)
    weights /= weights.sum(1).mean()
    lengths = rng.uniform(0, 100, (n, n))
    return weights, (lengths + lengths.T) / 2


def work_flops(model: str, delays: bool, n: int, steps: int, points: int) -> float | None:
    """FLOPs of the work where a hardware limit is defined (Hopf without delays)."""
    if model != "hopf" or delays:
        return None
    return float(steps) * points * (2 * n * n + HOPF_NODE_FLOPS * n)


# ----------------------------------------------------------------------------- xneuro


def _setup(n: int, model_name: str, delays: bool, noise: bool):
    import xarray as xr

    from xneuro import mass

    weights, lengths = network(n)
    conn = xr.Dataset({"weights": (("region", "region_"), weights),
                       "lengths": (("region", "region_"), lengths)})
    if model_name == "hopf":
        model, coupling = mass.Hopf(), mass.Diffusive(k=0.1)
    else:
        model, coupling = mass.JansenRit(), mass.Diffusive(k=1.0)
    kwargs = {"coupling": coupling, "delays": delays, "speed": 20.0 if delays else None,
              "noise": mass.OUNoise(sigma=0.01, states=model.noise_states[:1]) if noise else None,
              "variables": [model.states[0]], "check_stability": False}
    return conn, model, kwargs


def single(n: int, duration: float, model_name: str, delays: bool, noise: bool):
    """One run recorded every 1 ms (a function to time)."""
    from xneuro import mass

    conn, model, kwargs = _setup(n, model_name, delays, noise)
    return lambda: mass.simulate(conn, model, duration, DT, sample_every=1e-3, **kwargs)


def sweep(points: int, duration: float, model_name: str, delays: bool, noise: bool,
          chunk: int = 64):
    """A coupling sweep as lazy chunks of ``chunk`` points, reduced to the time-std per point."""
    from xneuro import mass

    conn, model, kwargs = _setup(80, model_name, delays, noise)
    values = {"k": np.linspace(0.0, 0.2 if model_name == "hopf" else 2.0, points)}

    def run():
        sim = mass.simulate(conn, model, duration, DT, sample_every=1e-2, sweep=values,
                            lazy=True, points_per_chunk=chunk, **kwargs)
        return sim[model.states[0]].std("time").compute()

    return run


def _gpu_peak_mb() -> float | None:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**20


# ----------------------------------------------------------------------------- peers

PEER_SCRIPT = textwrap.dedent('''
    import json, sys, time
    import numpy as np

    spec = json.loads(sys.argv[1])
    peer, recipe, model = spec["peer"], spec["recipe"], spec["model"]
    duration, points, repeat = spec["duration"], spec["points"], spec["repeat"]
    delays, noise, n = spec["delays"], spec["noise"], spec["n"]
    rng = np.random.default_rng(0)
    W = rng.uniform(0, 1, (n, n)); np.fill_diagonal(W, 0); W /= W.sum(1).mean()
    L = rng.uniform(0, 100, (n, n)); L = (L + L.T) / 2
    steps, every = int(round(duration * 1e4)), 10
    out = {}

    def versions(*names):
        from importlib import metadata
        return {m: metadata.version(m) for m in names}

    cpu = []

    def timed(func):
        t0, c0 = time.perf_counter(), time.process_time(); func()
        cpu.append(time.process_time() - c0); return time.perf_counter() - t0

    t0 = time.perf_counter()
    if peer == "neurolib":
        from neurolib.models.hopf import HopfModel
        out["import_s"], out["backend"] = time.perf_counter() - t0, "cpu"
        out["versions"] = versions("neurolib", "numba", "numpy")
        m = HopfModel(Cmat=W, Dmat=L if delays else np.zeros_like(W))
        m.params.update(duration=duration * 1000, dt=0.1, K_gl=0.1, signalV=20.0)
        run = m.run
    else:
        import jax, jax.numpy as jnp, brainstate, brainunit as u, brainmass
        out["import_s"], out["backend"] = time.perf_counter() - t0, jax.default_backend()
        out["versions"] = versions("brainmass", "brainstate", "brainunit", "jax", "jaxlib")
        brainstate.environ.set(dt=0.1 * u.ms)
        Wj = jnp.asarray(W, jnp.float32); rowsum = Wj.sum(1)

        def node_for():
            if model == "hopf":
                ou = brainmass.OUProcess(n, sigma=0.01, tau=10.0 * u.ms) if noise else None
                return brainmass.HopfStep(n, a=0.25, w=0.2, noise_x=ou)
            return brainmass.JansenRitStep(n)

        def rate(node):
            v = (node.E.value - node.I.value) / u.mV
            return 5.0 / (1.0 + jnp.exp(0.56 * (6.0 - v)))

        def own_loop(k):
            node = node_for(); brainstate.nn.init_all_states(node)
            def step(i):
                if model == "hopf":
                    x = node.x.value; node.update(k * (Wj @ x - rowsum * x))
                else:
                    s = rate(node); node.update(E_inp=(220.0 + k * (Wj @ s - rowsum * s)) * u.Hz)
            def sample(j):
                brainstate.transform.for_loop(step, jnp.arange(every))
                return node.x.value if model == "hopf" else node.E.value / u.mV
            return brainstate.transform.for_loop(sample, jnp.arange(steps // every))

        def simulator(k):
            node = node_for()
            net = brainmass.Network(node, conn=W, distance=L if delays else None,
                                    speed=20.0 if delays else None,
                                    coupled_var="x" if model == "hopf" else "M", k=k)
            mon = (lambda m: m.node.x.value) if model == "hopf" else (lambda m: m.node.M.value)
            return brainmass.Simulator(net, dt=0.1 * u.ms).run(
                duration * 1000 * u.ms, monitors=mon, sample_every=every)["output"]

        def simulator_inputs(k):
            node = node_for(); sim = brainmass.Simulator(node, dt=0.1 * u.ms)
            if model == "hopf":
                inputs = lambda i, t: k * (Wj @ node.x.value - rowsum * node.x.value)
                mon = lambda m: m.x.value
            else:
                def inputs(i, t):
                    s = rate(node)
                    return (0.0 * u.mV, (220.0 + k * (Wj @ s - rowsum * s)) * u.Hz)
                mon = lambda m: m.E.value / u.mV
            return sim.run(duration * 1000 * u.ms, inputs=inputs, monitors=mon,
                           sample_every=every)["output"]

        k0, kmax = (0.1, 0.2) if model == "hopf" else (1.0, 2.0)
        ks = jnp.linspace(0.0, kmax, points, dtype=jnp.float32)
        if recipe == "loop" and points == 1:
            f = brainstate.transform.jit(own_loop) if noise else jax.jit(own_loop)
            run = lambda: jax.block_until_ready(f(jnp.float32(k0)))
        elif recipe == "loop":
            f = jax.jit(jax.vmap(lambda k: own_loop(k).std(0)))
            run = lambda: jax.block_until_ready(f(ks))
        elif points == 1:
            run = lambda: jax.block_until_ready(simulator(k0))
        else:
            f = jax.jit(jax.vmap(lambda k: simulator_inputs(k).std(0)))
            run = lambda: jax.block_until_ready(f(ks))
    out["first"] = timed(run)
    print("PARTIAL" + json.dumps(out), flush=True)
    out["times"] = [timed(run) for _ in range(repeat)]
    out["cpu_times"] = cpu[1:]
    print("RESULT" + json.dumps(out), flush=True)
''')


def run_peer(python: str, spec: dict, timeout: float) -> dict:
    """Run one peer case in the scratch venv; ``{"error": ...}`` when it fails or times out."""
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")}
    try:
        proc = subprocess.run([python, "-c", PEER_SCRIPT, json.dumps(spec)],
                              capture_output=True, text=True, timeout=timeout, env=env)
        stdout = proc.stdout
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        partial = [ln for ln in stdout.splitlines() if ln.startswith("PARTIAL")]
        if partial:  # the first call finished; the repeats did not
            return {**json.loads(partial[-1][7:]), "times": [],
                    "error": f"repeats stopped at {timeout:.0f} s"}
        return {"error": f"timeout {timeout:.0f} s"}
    for line in stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]}


def peer_cases(size: str) -> list[tuple[str, str, str, str, bool, bool, int]]:
    """(who, peer, recipe, model, delays, noise, points) per peer case of a size."""
    loop, sim = ("brainmass (jit loop)", "brainmass", "loop"), ("brainmass (Simulator)",
                                                               "brainmass", "simulator")
    if size == "small":
        return [(*loop, "hopf", False, False, 1), (*loop, "jr", False, False, 1),
                (*loop, "hopf", False, False, 64), (*sim, "hopf", False, False, 1)]
    return [
        ("neurolib", "neurolib", "loop", "hopf", False, False, 1),
        ("neurolib", "neurolib", "loop", "hopf", True, False, 1),
        (*loop, "hopf", False, False, 1), (*loop, "hopf", False, True, 1),
        (*loop, "jr", False, False, 1), (*loop, "hopf", False, False, 64),
        (*loop, "jr", False, False, 64),
        (*sim, "hopf", False, False, 1), (*sim, "hopf", True, False, 1),
        (*sim, "jr", False, False, 1), (*sim, "hopf", False, False, 64),
    ]


# ----------------------------------------------------------------------------- driver


def _size_text(points: int, n: int, duration: float, workers: int = 0) -> str:
    """``64 points x 80 regions x 10 s``, plus `` on N workers`` for a cluster run."""
    text = (f"{points} points x " if points > 1 else "") + f"{n} regions x {duration:g} s"
    return text + (f" on {workers} worker{'s' if workers > 1 else ''}" if workers else "")


class Rows:
    """Collects :class:`Result` rows with the FLOP/s ceiling and prints each as it lands."""

    def __init__(self, args: argparse.Namespace, peak: float) -> None:
        self.args, self.peak, self.rows = args, peak, []
        self.cpu: dict[int, float] = {}  # row index -> CPU seconds of one call
        self.flops: dict[int, float] = {}  # row index -> FLOPs of the work

    def rescale(self, last: float) -> None:
        """Measure ``hw_fraction`` against the larger of the ceilings taken before and now.

        Other jobs on the machine lower a ceiling measured while they run.
        """
        ceiling = max(self.peak, last)
        print(f"CPU sgemm ceiling: {self.peak / 1e9:.0f} GFLOP/s before, {last / 1e9:.0f} "
              f"after; hw_fraction uses {ceiling / 1e9:.0f}")
        for i, row in enumerate(self.rows):
            if row.hw_fraction is not None and i in self.flops:
                row.hw_fraction = self.flops[i] / row.seconds / ceiling

    def add(self, row: Result, flops: float | None, steps: int, n: int, points: int,
            cpu: float | None = None) -> None:
        if cpu is not None:
            self.cpu[len(self.rows)] = cpu
            row.note = (f"CPU {cpu:.3g} s; " + row.note).rstrip("; ")
        if row.seconds == row.seconds and row.seconds > 0:
            row.throughput = steps * n * points / row.seconds
            row.unit = UNIT
            if flops is not None and (row.device == "cpu") == (self.args.device == "cpu"):
                row.hw_fraction = flops / row.seconds / self.peak
                self.flops[len(self.rows)] = flops
        self.rows.append(row)
        print(f"  {row.who:<22} {row.case:<20} {row.size:<36} {row.seconds:8.3f} s "
              f"(first {row.first_seconds if row.first_seconds is not None else float('nan'):.3f})"
              f" load {row.load if row.load is not None else float('nan'):.1f} {row.note}",
              flush=True)


def _timed(func, repeat: int, warmup: bool = True):
    """:func:`measure` plus the median CPU time of this process over the timed calls."""
    cpu: list[float] = []

    def call():
        start = time.process_time()
        func()
        cpu.append(time.process_time() - start)

    timing = measure(call, repeat, warmup=warmup)
    timed = cpu[1:] if warmup else cpu
    return timing, float(np.median(timed or cpu))


def _xneuro_rows(rows: Rows, cfg: dict, workers: list[int], device: str,
                 scheduler: str | None) -> None:
    import dask

    args, duration = rows.args, cfg["duration"]
    steps = round(duration / DT)
    variants = cfg.get("variants", VARIANTS)
    for model_name, delays, noise in variants:
        t, cpu = _timed(single(80, duration, model_name, delays, noise), args.repeat)
        rows.add(Result(BENCH, f"{label(model_name, delays, noise)} single",
                        _size_text(1, 80, duration), "xneuro", t.seconds,
                        first_seconds=t.first_seconds, repeats=t.repeats,
                        peak_host_mb=t.peak_host_mb, peak_gpu_mb=_peak_gpu(device),
                        device=device, load=t.load),
                 work_flops(model_name, delays, 80, steps, 1), steps, 80, 1, cpu)
    for n in cfg["regions"]:
        t, cpu = _timed(single(n, duration, "hopf", False, False), args.repeat)
        rows.add(Result(BENCH, "hopf single", _size_text(1, n, duration), "xneuro",
                        t.seconds, first_seconds=t.first_seconds, repeats=t.repeats,
                        peak_host_mb=t.peak_host_mb, peak_gpu_mb=_peak_gpu(device),
                        device=device, load=t.load),
                 work_flops("hopf", False, n, steps, 1), steps, n, 1, cpu)
    passes = [(0, cfg["local_sweeps"])] + [(count, cfg["sweeps"]) for count in workers]
    for count, sweeps in passes:
        with _cluster(count, scheduler) as client, \
                dask.config.set(scheduler=client or "threads"):
            n_workers = len(client.scheduler_info()["workers"]) if client else 0
            for points, models in sweeps.items():
                for model_name, delays, noise in variants:
                    if models is not None and (model_name not in models or delays or noise):
                        continue
                    big = points > 64
                    # every worker gets a chunk: 64 points on 2 workers run as 2 x 32
                    chunk = min(64, -(-points // max(n_workers, 1)))
                    t, cpu = _timed(sweep(points, duration, model_name, delays, noise, chunk),
                                    1 if big else args.repeat, warmup=not big)
                    note = "first call (compiles on each worker)" if big else ""
                    if chunk < 64:
                        note = f"chunks of {chunk} points"
                    if client:
                        note = (note + "; " if note else "") + "workers' memory not sampled"
                    rows.add(Result(BENCH, f"{label(model_name, delays, noise)} sweep",
                                    _size_text(points, 80, duration, n_workers), "xneuro",
                                    t.seconds, first_seconds=t.first_seconds, repeats=t.repeats,
                                    peak_host_mb=None if client else t.peak_host_mb,
                                    peak_gpu_mb=_peak_gpu(device), device=device,
                                    workers=n_workers, load=t.load, note=note),
                             work_flops(model_name, delays, 80, steps, points), steps, 80, points,
                             None if client else cpu)


def _peak_gpu(device: str) -> float | None:
    return _gpu_peak_mb() if device == "cuda" else None


def _cluster(count: int, scheduler: str | None):
    import contextlib

    import xneuro

    if scheduler:
        from distributed import Client

        return Client(scheduler)
    if count == 0:
        return contextlib.nullcontext(None)
    return xneuro.cluster(n_workers=count, threads_per_worker=1, processes=True,
                          dashboard_address=None)


def _efficiency(rows: list[Result]) -> None:
    """Efficiency of each scaling row against the 1-worker row of the same sweep."""
    one = {(r.case, r.size.rsplit(" on ", 1)[0]): r.seconds for r in rows
           if r.who == "xneuro" and r.workers == 1}
    for r in rows:
        if r.who == "xneuro" and r.workers > 1:
            base = one.get((r.case, r.size.rsplit(" on ", 1)[0]))
            if base and r.seconds == r.seconds:
                eff = base / (r.workers * r.seconds)
                r.note = (r.note + "; " if r.note else "") + f"efficiency {eff:.2f} vs 1 worker"


def _peer_rows(rows: Rows, python: str | None, cfg: dict, size: str) -> None:
    args, duration = rows.args, cfg["duration"]
    steps = round(duration / DT)
    if python:
        for who, peer, recipe, model_name, delays, noise, points in peer_cases(size):
            spec = {"peer": peer, "recipe": recipe, "model": model_name, "delays": delays,
                    "noise": noise, "duration": duration, "points": points, "n": 80,
                    "repeat": 1 if points > 1 else args.repeat}
            out = run_peer(python, spec, args.peer_timeout)
            case = f"{label(model_name, delays, noise)} {'sweep' if points > 1 else 'single'}"
            times = out.get("times") or []
            seconds = float(np.median(times)) if times else out.get("first", float("nan"))
            versions = ", ".join(f"{k} {v}" for k, v in out.get("versions", {}).items())
            note = "; ".join(x for x in (versions, out.get("error", "")) if x)
            if "first" in out and not times:
                note += "; first call only"
            cpu = out.get("cpu_times") or []
            rows.add(Result(BENCH, case, _size_text(points, 80, duration), who, seconds,
                            first_seconds=out.get("first"), repeats=len(times),
                            device="cuda" if out.get("backend") == "gpu" else "cpu",
                            load=load_average(), note=note),
                     work_flops(model_name, delays, 80, steps, points), steps, 80, points,
                     float(np.median(cpu)) if cpu else None)
    if duration != 10.0:
        return
    for (who, case), (seconds, first, note) in RECORDED.items():
        points = 64 if case.endswith("sweep") else 1
        # no hw_fraction: recorded on another CPU
        rows.add(Result(BENCH, case, _size_text(points, 80, 10.0), who,
                        seconds if seconds == seconds else first, source="recorded",
                        first_seconds=first, device="cpu",
                        note=note + ("" if seconds == seconds else "; first call")),
                 None, 100_000, 80, points)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--peer-timeout", type=float, default=600.0,
                        help="seconds before a peer case is abandoned")
    parser.add_argument("--no-peers", action="store_true",
                        help="print the recorded peer figures only")
    args = parser.parse_args(argv)
    if args.device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")  # also for the workers and peers
    else:
        # before JAX starts: this process and its workers share the GPU's memory
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        reason = require_device(args.device)
        if reason is None:
            import jax

            if not any(d.platform == "gpu" for d in jax.devices()):
                reason = "JAX sees no GPU (install jax[cuda12]); skipping --device cuda"
        if reason:
            print(reason)
            return 0
    cfg = SIZES[args.size]
    if args.scheduler:
        workers = [-1]
    elif args.workers:
        workers = sorted({1, args.workers})
    else:
        workers = [] if args.size == "small" else [1, 2]
    started = time.perf_counter()
    peak = GPU_PEAK_FLOPS if args.device == "cuda" else gemm_peak_flops()
    python = None if args.no_peers else peer_python(args, BENCH)
    print(f"neural mass benchmark ({args.size}): {cfg['duration']:g} s at dt = 0.1 ms, "
          f"float32, device {args.device}; FLOP/s ceiling {peak / 1e9:.0f} GFLOP/s; "
          f"peers: {python or 'recorded figures'}; {os.cpu_count()} CPUs, "
          f"load {'/'.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
    rows = Rows(args, peak)
    _xneuro_rows(rows, cfg, workers, args.device, args.scheduler)
    _peer_rows(rows, python, cfg, args.size)
    _efficiency(rows.rows)
    if args.device == "cpu":
        rows.rescale(gemm_peak_flops())
    print(f"total {time.perf_counter() - started:.0f} s\n")
    finish(rows.rows, args, f"neural mass ({args.size}, {args.device})")
    _targets(rows)
    return 0


def _targets(rows: Rows) -> None:
    """The issue's targets: xneuro (in this process) against each peer, wall and CPU time."""
    print("\nxneuro's speed-up over each peer on the same work (in-process rows; wall time, "
          "CPU time of the process where both were measured). Targets: >= 2x single, "
          ">= 10x on the 64-point sweep:")
    ours = {(r.case, r.size): i for i, r in enumerate(rows.rows)
            if r.who == "xneuro" and r.workers == 0}
    for i, r in enumerate(rows.rows):
        mine = ours.get((r.case, r.size))
        if r.who == "xneuro" or mine is None or r.seconds != r.seconds:
            continue
        ours_row = rows.rows[mine]
        text = f"{r.seconds / ours_row.seconds:6.1f}x wall"
        if i in rows.cpu and mine in rows.cpu:
            text += f", {rows.cpu[i] / rows.cpu[mine]:6.1f}x CPU"
        source = "recorded" if r.source == "recorded" else f"load {r.load:.1f}"
        print(f"  {r.case:<18} {r.size:<28} vs {r.who:<22} {text}  ({source})")


if __name__ == "__main__":
    sys.exit(main())
