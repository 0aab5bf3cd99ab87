"""What every ``benchmarks/bench_*.py`` script shares: arguments, timing, memory, results.

A benchmark script builds :class:`Result` rows, one per (case, size, who),
and hands them to :func:`finish`, which prints them and writes them as JSON
when ``--json`` was given. The runner (:mod:`xneuro.bench.runner`) reads those
JSON files back, whatever script wrote them.

Conventions
-----------
- ``seconds`` is the median of ``repeats`` timed calls after one warm-up
  call (the warm-up, which holds JIT compilation, is ``first_seconds``).
- ``throughput`` is in the natural unit of the work (``unit``): voxels x
  iterations/s, images/s, steps x regions x points/s.
- ``peak_host_mb`` is the peak increase of this process's resident set
  during one call; ``peak_gpu_mb`` the peak device memory allocated.
- ``hw_fraction`` is the achieved fraction of a hardware limit (GEMM-bound
  work: achieved FLOP/s over :func:`gemm_peak_flops` on the CPU, or over a
  nominal device peak), else ``None``.
- ``source`` is ``"measured"`` for work run now, ``"recorded"`` for a peer's
  figure copied from the reference notes (another machine and load).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

SIZES = ("small", "medium", "large")
DEVICES = ("cpu", "cuda")

#: Environment variable naming the python of a scratch virtualenv that holds
#: the peer libraries (brainmass, neurolib, rsatoolbox, himalaya, ...).
PEER_PYTHON_ENV = "XNEURO_PEER_PYTHON"


@dataclasses.dataclass
class Result:
    """One benchmark row: one case at one size, run by one implementation.

    Parameters
    ----------
    benchmark : str
        The capability, the script's name without ``bench_`` (``"mass"``).
    case : str
        What was run (``"hopf sweep"``).
    size : str
        The problem size in words (``"64 points x 80 regions"``).
    who : str
        ``"xneuro"`` or the peer's name (``"brainmass"``, ``"numpy"``).
    seconds : float
        Median wall time of the timed calls; NaN when the case failed.
    source : str
        ``"measured"`` or ``"recorded"`` (a figure from the reference notes).
    first_seconds, repeats, throughput, unit, peak_host_mb, peak_gpu_mb, hw_fraction
        See the module docstring; ``None`` where not measured.
    device : str
        ``"cpu"`` or ``"cuda"``.
    workers : int
        Dask workers used (0: in-process, no cluster).
    load : float or None
        1-minute load average when the row was measured.
    note : str
        Anything a reader needs to trust the number.
    """

    benchmark: str
    case: str
    size: str
    who: str
    seconds: float
    source: str = "measured"
    first_seconds: float | None = None
    repeats: int = 1
    throughput: float | None = None
    unit: str | None = None
    peak_host_mb: float | None = None
    peak_gpu_mb: float | None = None
    hw_fraction: float | None = None
    device: str = "cpu"
    workers: int = 0
    load: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready dict (NaN becomes ``None``)."""
        out = dataclasses.asdict(self)
        return {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Build a row from :meth:`to_dict` output, ignoring unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if kwargs.get("seconds") is None:
            kwargs["seconds"] = float("nan")
        return cls(**kwargs)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments every benchmark script takes.

    ``--size small|medium|large`` (``--quick`` is kept as ``--size small``),
    ``--device cpu|cuda``, ``--scheduler ADDRESS`` (a running Dask scheduler),
    ``--workers N`` (start a LocalCluster of N workers; 0 = in-process),
    ``--repeat R``, ``--json PATH`` and ``--peer-python PATH``.
    """
    parser.add_argument("--size", choices=SIZES, default="medium",
                        help="problem sizes: small (< 1 min on 2 cores), medium, large")
    parser.add_argument("--quick", action="store_const", const="small", dest="size",
                        help="same as --size small")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="run on the CPU or the first CUDA GPU")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler to use")
    parser.add_argument("--workers", type=int, default=0,
                        help="start a LocalCluster with this many workers (0: in-process)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls after the warm-up")
    parser.add_argument("--json", default=None, help="write the rows to this JSON file")
    parser.add_argument("--peer-python", default=None,
                        help=f"python of a scratch venv with the peer libraries (default: "
                             f"${PEER_PYTHON_ENV}_<BENCHMARK>, then ${PEER_PYTHON_ENV})")
    return parser


def peer_python(args: argparse.Namespace, benchmark: str) -> str | None:
    """The python that runs the peers of ``benchmark``, or ``None`` if there is none.

    Taken from ``--peer-python``, else ``$XNEURO_PEER_PYTHON_<BENCHMARK>``
    (``XNEURO_PEER_PYTHON_MASS``), else ``$XNEURO_PEER_PYTHON``; a path that
    does not exist counts as none (the script then prints recorded figures).
    """
    candidates = (getattr(args, "peer_python", None),
                  os.environ.get(f"{PEER_PYTHON_ENV}_{benchmark.upper()}"),
                  os.environ.get(PEER_PYTHON_ENV))
    for path in candidates:
        if path:
            return path if Path(path).exists() else None
    return None


def require_device(device: str) -> str | None:
    """Return ``None`` if ``device`` can be used, else the reason it cannot.

    Benchmarks print the reason and exit 0 (a clean skip) on a machine
    without a GPU.
    """
    if device == "cpu":
        return None
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and torch.cuda.is_available():
        return None
    try:
        import jax

        if any(d.platform == "gpu" for d in jax.devices()):
            return None
    except Exception:  # no jax, or no GPU backend: both mean no GPU here
        pass
    return "no CUDA GPU is visible (torch.cuda and jax found none); skipping --device cuda"


def load_average() -> float:
    """The 1-minute load average (0.0 where the OS does not report one)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


class PeakMemory:
    """Peak increase of this process's resident set (MB) while the block runs.

    Sampled every ``interval`` seconds in a thread; very short peaks of small
    calls may be missed. GPU peak memory (torch) is read when ``device`` is
    ``"cuda"``. With ``children=True`` the resident sets of this process's
    child processes (e.g. the workers of a ``LocalCluster``) are added in.
    """

    def __init__(self, interval: float = 0.002, device: str = "cpu",
                 children: bool = False) -> None:
        self.interval, self.device, self.children = interval, device, children
        self.megabytes = 0.0
        self.gpu_megabytes: float | None = None
        self._stop = threading.Event()

    def _rss(self) -> int:
        import psutil

        process = psutil.Process()
        total = process.memory_info().rss
        if self.children:
            for child in process.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # a child that just exited
                    total += child.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._base = self._peak = self._rss()
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            self.gpu_megabytes = torch.cuda.max_memory_allocated() / 2**20
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._rss())
        self.megabytes = max(self._peak - self._base, 0) / 2**20


def _status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (0 where there is none)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class KernelPeakRSS:
    """Peak increase of this process's resident set (MB), from the kernel's high-water mark.

    Resets ``VmHWM`` through ``/proc/self/clear_refs`` on entry and reads it
    on exit: exact and free of sampling, but Linux only (0 elsewhere) and
    blind to child processes; :class:`PeakMemory` samples instead.
    """

    megabytes: float = 0.0

    def __enter__(self) -> KernelPeakRSS:
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # the peak resident set restarts from the current one
        except OSError:
            pass
        self._before = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.megabytes = max(_status_kib("VmHWM") - self._before, 0) / 1024


@dataclasses.dataclass
class Timing:
    """What :func:`measure` returns."""

    seconds: float
    first_seconds: float
    repeats: int
    peak_host_mb: float
    peak_gpu_mb: float | None
    load: float


def measure(func: Callable[[], Any], repeat: int = 3, device: str = "cpu",
            warmup: bool = True, children: bool = False) -> Timing:
    """Time ``func``: one warm-up call, then the median of ``repeat`` calls.

    The peak memory is that of the warm-up call (or of the first timed call
    with ``warmup=False``); ``children=True`` adds the child processes'
    resident sets (Dask workers). On ``device="cuda"`` the GPU is synchronised
    around each call (``func`` should return only after its work is queued).
    """
    def call() -> float:
        start = time.perf_counter()
        func()
        if device == "cuda":
            import torch

            torch.cuda.synchronize()
        return time.perf_counter() - start

    with PeakMemory(device=device, children=children) as memory:
        first = call()
    times = [call() for _ in range(repeat)] if warmup else [first] + [
        call() for _ in range(repeat - 1)]
    return Timing(seconds=statistics.median(times) if times else first, first_seconds=first,
                  repeats=len(times), peak_host_mb=memory.megabytes,
                  peak_gpu_mb=memory.gpu_megabytes, load=load_average())


def gemm_peak_flops(n: int = 2048, dtype: str = "float32") -> float:
    """Measured float32 matrix-multiply FLOP/s of this CPU (numpy, best of 3).

    This is the ceiling that ``hw_fraction`` of GEMM-bound CPU work is
    measured against; it uses every core numpy's BLAS is allowed to use.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(3))
    return 2 * n**3 / best


def _timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def versions(extra: Sequence[str] = ()) -> dict[str, str]:
    """Versions of python, xneuro and the array libraries (and ``extra`` modules)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("xneuro", "numpy", "scipy", "xarray", "dask", "zarr", "jax", "torch",
                 *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine() -> dict[str, Any]:
    """This machine: CPU model, core count, memory, GPUs (names only), OS."""
    info: dict[str, Any] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                            "cpu_model": _cpu_model()}
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    info["gpus"] = _gpu_names()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_names() -> list[str]:
    if "torch" not in sys.modules:
        return []  # importing torch only to list GPUs would cost seconds per script
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def finish(results: Sequence[Result], args: argparse.Namespace,
           title: str = "") -> int:
    """Print ``results`` as a table and write them to ``args.json`` if given.

    Returns 0, the script's exit status.
    """
    from xneuro.bench.report import text_table

    if title:
        print(title)
    print(text_table(results))
    if getattr(args, "json", None):
        payload = {"created": _dt.datetime.now().isoformat(timespec="seconds"),
                   "size": getattr(args, "size", None),
                   "device": getattr(args, "device", "cpu"),
                   "machine": machine(), "versions": versions(),
                   "results": [r.to_dict() for r in results]}
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return 0


def read_results(path: str | os.PathLike) -> tuple[dict[str, Any], list[Result]]:
    """Read a JSON file written by :func:`finish`: (header, rows)."""
    payload = json.loads(Path(path).read_text())
    rows = [Result.from_dict(r) for r in payload.pop("results")]
    return payload, rows


def select_jax_platform(device: str) -> None:
    """Make JAX, imported after this call, run on ``device``.

    ``"cpu"`` sets ``JAX_PLATFORMS=cpu`` (inherited by Dask worker processes
    too), so that a machine with a GPU still measures the CPU when asked to;
    ``"cuda"`` leaves JAX's default (the GPU when jaxlib has CUDA). Call it
    at the start of a script's ``main``, before anything imports JAX; if JAX
    is already imported nothing changes.
    """
    if device == "cpu" and "jax" not in sys.modules:
        os.environ["JAX_PLATFORMS"] = "cpu"


@contextlib.contextmanager
def dask_client(args: argparse.Namespace) -> Iterator[tuple[Any, int]]:
    """The Dask cluster a script's ``--scheduler`` / ``--workers`` ask for.

    Yields ``(client, workers)``: a :class:`distributed.Client` connected to
    ``--scheduler``, or owning a ``LocalCluster`` of ``--workers`` single-
    threaded worker processes (closed on leaving the block), with its worker
    count; ``(None, 0)`` when neither was given (in-process work).
    """
    scheduler = getattr(args, "scheduler", None)
    workers = getattr(args, "workers", 0) or 0
    if scheduler:
        import distributed

        with distributed.Client(scheduler, set_as_default=True) as client:
            yield client, len(client.scheduler_info().get("workers", {}))
    elif workers > 0:
        from xneuro.core.parallel import cluster

        with cluster(n_workers=workers, threads_per_worker=1, processes=True,
                     dashboard_address=None, memory_limit=None) as client:
            yield client, workers
    else:
        yield None, 0


def jax_gpu_peak_mb() -> float | None:
    """Peak memory JAX's allocator held on its first GPU so far (MB), or ``None``.

    Unlike :class:`PeakMemory`'s torch figure this is the peak since the
    process started, not per call: read it after the largest case.
    """
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    try:
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        stats = gpus[0].memory_stats() if gpus else None
    except Exception:  # no GPU backend, or a backend without memory statistics
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**20
