"""``xneuro bench``: run the ``benchmarks/bench_*.py`` scripts and write one report.

Each script runs in its own process (``python bench_<name>.py --size ...
--device ... --json FILE``), so that a crash, a timeout or a leaked thread
pool stays inside it; its output is streamed through, its wall time and exit
status are recorded, and a script that fails is recorded with the tail of its
error output while the run goes on. A script that exits 0 without rows (no
GPU for ``--device cuda``, say) counts as skipped, with the last line it
printed as the reason.

The rows of every script (:class:`~xneuro.bench.harness.Result`) go into
``<out>/bench-<YYYYMMDD-HHMM>.json`` (with the machine, the versions and the
status of each script; :func:`~xneuro.bench.harness.read_results` reads it)
and ``<out>/bench-<YYYYMMDD-HHMM>.md`` (one table per benchmark, and for
``--workers 1,2`` the scaling efficiency), copied to ``latest.json`` and
``latest.md``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime as _dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xneuro.bench.harness import (
    DEVICES,
    SIZES,
    Result,
    load_average,
    machine,
    read_results,
    versions,
)
from xneuro.core.errors import XneuroError, input_error

__all__ = ["ScriptRun", "add_runner_arguments", "default_directory", "discover", "main",
           "parse_workers", "run_benchmarks", "run_script", "select", "write_report"]

logger = logging.getLogger("xneuro.bench.runner")

#: Seconds one script may run at each size before it is stopped (``--timeout``).
DEFAULT_TIMEOUT = {"small": 300.0, "medium": 8 * 3600.0, "large": 48 * 3600.0}
PREFIX = "bench_"
STDERR_TAIL = 2000


@dataclasses.dataclass
class ScriptRun:
    """What one run of one benchmark script gave.

    Parameters
    ----------
    name : str
        The capability (``"fit"`` for ``bench_fit.py``).
    script : str
        Path of the script.
    workers : int or None
        The ``--workers`` it was given (None: not given).
    status : str
        ``"ok"``, ``"skipped"`` (exit 0 without rows), ``"failed"`` or ``"timeout"``.
    wall_seconds : float
        Wall time of the whole process.
    returncode : int or None
        Its exit status (None when it was stopped at the timeout).
    reason : str
        Why it was skipped, or the tail of its error output when it failed.
    rows : list of Result
        The rows it wrote.
    load_start, load_end : float
        1-minute load average when it started and ended.
    """

    name: str
    script: str
    workers: int | None
    status: str
    wall_seconds: float
    returncode: int | None
    reason: str = ""
    rows: list[Result] = dataclasses.field(default_factory=list)
    load_start: float = 0.0
    load_end: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The run without its rows, JSON-ready."""
        out = dataclasses.asdict(self)
        out.pop("rows")
        out["n_rows"] = len(self.rows)
        return out


# ----------------------------------------------------------------------------- finding scripts


def default_directory() -> Path:
    """The ``benchmarks`` folder beside the (editable) package source."""
    import xneuro

    return Path(xneuro.__file__).resolve().parents[1] / "benchmarks"


def discover(path: str | os.PathLike | None = None) -> dict[str, Path]:
    """The benchmark scripts of a folder, by capability name, in name order.

    Parameters
    ----------
    path : path-like, optional
        The folder holding ``bench_*.py``; :func:`default_directory` when None.

    Returns
    -------
    dict
        ``{"fit": Path(".../bench_fit.py"), ...}``.

    Raises
    ------
    InputError
        When the folder does not exist or holds no ``bench_*.py``.
    """
    folder = Path(path) if path is not None else default_directory()
    scripts = sorted(folder.glob(f"{PREFIX}*.py")) if folder.is_dir() else []
    if not scripts:
        problem = "does not exist" if not folder.is_dir() else "holds no bench_*.py script"
        raise input_error("--path", f"{str(folder)!r} {problem}",
                          expected="a folder of benchmarks/bench_<name>.py scripts",
                          fix="pass --path DIR pointing at the repository's benchmarks/ folder "
                              "(an installed, non-editable xneuro ships without them)")
    return {p.stem[len(PREFIX):]: p for p in scripts}


def select(available: dict[str, Path], names: Sequence[str] | None) -> list[str]:
    """The benchmarks to run: ``names`` (``"fit"``, ``"bench_fit"``, ``"bench_fit.py"``) or all.

    Raises
    ------
    InputError
        For a name that matches no script, listing the available ones.
    """
    if not names:
        return list(available)
    chosen: list[str] = []
    unknown = []
    for raw in names:
        name = Path(raw).name.removesuffix(".py").removeprefix(PREFIX)
        if name not in available:
            unknown.append(raw)
        elif name not in chosen:
            chosen.append(name)
    if unknown:
        raise input_error("names", f"unknown benchmark(s) {unknown}",
                          expected=f"some of {list(available)}",
                          fix="run `xneuro bench --list` to see them")
    return chosen


def parse_workers(text: str | None) -> list[int | None]:
    """``--workers``: None -> ``[None]``; ``"2"`` -> ``[2]``; ``"1,2"`` -> ``[1, 2]``."""
    if text is None or str(text).strip() == "":
        return [None]
    try:
        counts = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or any(c < 0 for c in counts):
        raise input_error("--workers", f"is {text!r}",
                          expected="a worker count >= 0 or a comma list such as 1,2",
                          fix="pass e.g. --workers 2 or --workers 1,2 for a scaling run")
    return list(dict.fromkeys(counts))


def describe(script: Path) -> str:
    """The first line of a script's docstring (read, not imported)."""
    try:
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


# ----------------------------------------------------------------------------- running one


def _stream(pipe: Any, lines: list[str], echo: Callable[[str], None] | None) -> None:
    for line in pipe:
        line = line.rstrip("\n")
        lines.append(line)
        if echo is not None:
            echo(line)


def _stop(process: subprocess.Popen) -> None:
    """Stop the script and its children (it leads its own process group)."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_script(script: str | os.PathLike, *, size: str = "small", device: str = "cpu",
               workers: int | None = None, scheduler: str | None = None,
               repeat: int | None = None, timeout: float | None = None,
               echo: Callable[[str], None] | None = print,
               python: str | None = None) -> ScriptRun:
    """Run one benchmark script in its own process and collect its rows.

    Parameters
    ----------
    script : path-like
        A ``bench_<name>.py`` that takes the harness's arguments.
    size, device, workers, scheduler, repeat
        Passed on as ``--size``, ``--device``, ``--workers``, ``--scheduler``
        and ``--repeat`` (the last three only when given).
    timeout : float, optional
        Seconds before the script (and its children) is stopped; the size's
        :data:`DEFAULT_TIMEOUT` when None.
    echo : callable, optional
        Called with each line the script prints (None: silent).
    python : str, optional
        The interpreter (this one when None).

    Returns
    -------
    ScriptRun
    """
    script = Path(script)
    name = script.stem.removeprefix(PREFIX)
    timeout = DEFAULT_TIMEOUT.get(size, DEFAULT_TIMEOUT["small"]) if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix=f"xneuro-bench-{name}-") as tmp:
        rows_file = Path(tmp) / "rows.json"
        command = [python or sys.executable, str(script), "--size", size, "--device", device,
                   "--json", str(rows_file)]
        if workers is not None:
            command += ["--workers", str(workers)]
        if scheduler:
            command += ["--scheduler", scheduler]
        if repeat is not None:
            command += ["--repeat", str(repeat)]
        logger.info("running %s", " ".join(command))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        load_start, start = load_average(), time.perf_counter()
        with open(Path(tmp) / "stderr.txt", "w+", encoding="utf-8", errors="replace") as err:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True,
                                       errors="replace", env=env, start_new_session=True)
            lines: list[str] = []
            reader = threading.Thread(target=_stream, args=(process.stdout, lines, echo),
                                      daemon=True)
            reader.start()
            try:
                returncode: int | None = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop(process)
                returncode = None
            except BaseException:  # Ctrl-C: its own session would not get the signal
                _stop(process)
                raise
            reader.join(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
            wall = time.perf_counter() - start
            err.seek(0)
            stderr = err.read()[-STDERR_TAIL:].strip()
        rows: list[Result] = []
        if rows_file.exists():
            try:
                rows = read_results(rows_file)[1]
            except (ValueError, KeyError, TypeError) as error:
                stderr = f"{stderr}\nunreadable --json output: {error}".strip()
                returncode = returncode or 1
    if returncode is None:
        status, reason = "timeout", f"timed out after {timeout:.0f} s; {stderr}".strip("; ")
    elif returncode != 0:
        status, reason = "failed", f"exit status {returncode}: {stderr}".strip(": ")
    elif not rows:
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        status, reason = "skipped", last or "the script wrote no rows"
    else:
        status, reason = "ok", ""
    return ScriptRun(name=name, script=str(script), workers=workers, status=status,
                     wall_seconds=wall, returncode=returncode, reason=reason, rows=rows,
                     load_start=load_start, load_end=load_average())


# ----------------------------------------------------------------------------- the report


def _stamp(out: Path, now: _dt.datetime) -> str:
    base = f"bench-{now:%Y%m%d-%H%M}"
    stem, n = base, 1
    while (out / f"{stem}.json").exists() or (out / f"{stem}.md").exists():
        n += 1
        stem = f"{base}-{n}"
    return stem


def write_report(runs: Sequence[ScriptRun], out: str | os.PathLike,
                 options: dict[str, Any], argv: Sequence[str],
                 wall_seconds: float = 0.0,
                 now: _dt.datetime | None = None) -> tuple[Path, Path]:
    """Write ``bench-<stamp>.json`` and ``.md`` (and ``latest.*`` copies) into ``out``.

    The markdown is :func:`~xneuro.bench.report.markdown_report`; a second
    report in the same minute gets a ``-2`` suffix instead of overwriting.

    Returns
    -------
    (Path, Path)
        The JSON and the markdown file.
    """
    from xneuro.bench.report import markdown_report

    now = now or _dt.datetime.now()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    mach = machine()
    if not mach.get("gpus"):
        mach["gpus"] = _driver_gpus()
    header = {"created": now.isoformat(timespec="seconds"), "argv": list(argv),
              "options": options, "wall_seconds": wall_seconds, "machine": mach,
              "versions": versions()}
    payload = {**header, "scripts": [run.to_dict() for run in runs],
               "results": [dict(r.to_dict(), script_workers=run.workers)
                           for run in runs for r in run.rows]}
    stem = _stamp(folder, now)
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    json_path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    md_path.write_text(markdown_report(header, runs), encoding="utf-8")
    shutil.copyfile(json_path, folder / "latest.json")
    shutil.copyfile(md_path, folder / "latest.md")
    return json_path, md_path


def _driver_gpus() -> list[str]:
    """GPU names from ``nvidia-smi`` (the runner does not import torch to list them)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        done = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the whole run


def run_benchmarks(names: Sequence[str] | None = None, *,
                   path: str | os.PathLike | None = None, size: str = "small",
                   device: str = "cpu", scheduler: str | None = None,
                   workers: str | int | Sequence[int] | None = None,
                   repeat: int | None = None, out: str | os.PathLike = "bench-results",
                   timeout: float | None = None,
                   echo: Callable[[str], None] | None = print,
                   quiet: bool = False,
                   argv: Sequence[str] | None = None) -> tuple[list[ScriptRun], Path, Path]:
    """Run the selected benchmark scripts and write the JSON and markdown report.

    Parameters
    ----------
    names : sequence of str, optional
        Capabilities to run (``["fit", "berg"]``); all when empty.
    path : path-like, optional
        The folder of ``bench_*.py`` scripts (:func:`default_directory`).
    size : {"small", "medium", "large"}
    device : {"cpu", "cuda"}
    scheduler : str, optional
        Address of a running Dask scheduler, passed to every script.
    workers : int, str or sequence of int, optional
        Dask worker count, or several (``"1,2"``) for a scaling run: each
        script runs once per count, except a script whose rows show that it
        used no Dask cluster, which runs once.
    repeat : int, optional
        Timed calls per case (each script's default when None).
    out : path-like
        Folder of the report.
    timeout : float, optional
        Seconds per script run (:data:`DEFAULT_TIMEOUT` of the size when None).
    echo : callable, optional
        Receives the progress lines (and, unless ``quiet``, the scripts' output).
    quiet : bool
        Only one progress line per script.
    argv : sequence of str, optional
        The command line, recorded in the report.

    Returns
    -------
    (list of ScriptRun, Path, Path)
        The runs, the JSON file and the markdown file.
    """
    if size not in SIZES:
        raise input_error("--size", f"is {size!r}", expected=f"one of {SIZES}")
    if device not in DEVICES:
        raise input_error("--device", f"is {device!r}", expected=f"one of {DEVICES}")
    if repeat is not None and repeat < 1:
        raise input_error("--repeat", f"is {repeat}", expected="a count >= 1")
    if timeout is not None and timeout <= 0:
        raise input_error("--timeout", f"is {timeout}", expected="seconds > 0")
    counts = (parse_workers(workers) if workers is None or isinstance(workers, str)
              else parse_workers(str(workers)) if isinstance(workers, int)
              else parse_workers(",".join(map(str, workers))))
    if scheduler and counts != [None]:
        raise input_error("--workers", "was given together with --scheduler",
                          expected="one of them: the scheduler's cluster has its own workers",
                          fix="drop --workers, or drop --scheduler to start a LocalCluster")
    available = discover(path)
    chosen = select(available, names)
    say = echo or (lambda line: None)
    script_echo = None if quiet or echo is None else (lambda line: echo("    " + line))
    runs: list[ScriptRun] = []
    began = time.perf_counter()
    for name in chosen:
        for n in counts:
            label = f"{name}" + ("" if n is None else f" --workers {n}")
            say(f"[bench] {label}: running {available[name].name} --size {size} "
                f"--device {device} (load {load_average():.1f})")
            run = run_script(available[name], size=size, device=device, workers=n,
                             scheduler=scheduler, repeat=repeat, timeout=timeout,
                             echo=script_echo)
            runs.append(run)
            say(f"[bench] {label}: {run.status} in {run.wall_seconds:.1f} s, "
                f"{len(run.rows)} rows" + (f" ({run.reason.splitlines()[-1][:200]})"
                                           if run.reason else ""))
            if n is not None and run.status == "ok" and all(r.workers == 0 for r in run.rows):
                if len(counts) > 1:
                    say(f"[bench] {name}: its rows used no Dask cluster; not rerun at other "
                        "worker counts")
                break
    options = {"names": chosen, "size": size, "device": device, "scheduler": scheduler,
               "workers": None if counts == [None] else counts, "repeat": repeat,
               "timeout": timeout}
    json_path, md_path = write_report(runs, out, options,
                                      list(argv) if argv is not None
                                      else [Path(sys.argv[0]).name, *sys.argv[1:]],
                                      wall_seconds=time.perf_counter() - began)
    return runs, json_path, md_path


# ----------------------------------------------------------------------------- the command


def add_runner_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``xneuro bench`` and ``python -m benchmarks``."""
    parser.add_argument("names", nargs="*",
                        help="benchmarks to run, by capability (e.g. fit berg); default: all")
    parser.add_argument("--size", choices=SIZES, default="small",
                        help="problem sizes (default small: each script < 1 min on 2 cores)")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="cpu, or cuda (scripts without a GPU path, or on a machine "
                             "without a GPU, skip)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler for the Dask benchmarks")
    parser.add_argument("--workers", default=None,
                        help="LocalCluster worker count for the Dask benchmarks, or a comma "
                             "list (1,2) for a scaling run")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed calls per case after the warm-up (default: the script's)")
    parser.add_argument("--out", default="bench-results",
                        help="folder of the JSON and markdown report (default bench-results)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per script before it is stopped (default: "
                             + ", ".join(f"{k} {v:.0f}" for k, v in DEFAULT_TIMEOUT.items())
                             + ")")
    parser.add_argument("--path", default=None,
                        help="folder of the bench_*.py scripts (default: benchmarks/ beside "
                             "the xneuro source)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quiet", action="store_true",
                        help="one progress line per script instead of its output")
    return parser


def run_from_args(args: argparse.Namespace, argv: Sequence[str] | None = None) -> int:
    """Run what the parsed ``xneuro bench`` arguments ask for; the exit status.

    0 when every script ran or was skipped, 1 when one failed or timed out.
    """
    available = discover(args.path)
    if args.list:
        for name, script in available.items():
            print(f"{name:<10} {describe(script)}")
        return 0
    runs, json_path, md_path = run_benchmarks(
        args.names, path=args.path, size=args.size, device=args.device,
        scheduler=args.scheduler, workers=args.workers, repeat=args.repeat, out=args.out,
        timeout=args.timeout, quiet=args.quiet, argv=argv)
    from xneuro.bench.report import scaling_table, text_table

    rows = [r for run in runs for r in run.rows]
    if rows:
        print("\n" + text_table(rows))
    scaling = scaling_table(rows)
    if scaling:
        print("\nscaling (efficiency vs. the fewest workers):\n" + scaling)
    print("\n" + "\n".join(f"{run.name:<10} {'' if run.workers is None else run.workers!s:>3} "
                           f"{run.status:<8} {run.wall_seconds:7.1f} s" for run in runs))
    print(f"report: {md_path} and {json_path} (also latest.md, latest.json)")
    return 1 if any(run.status in ("failed", "timeout") for run in runs) else 0


def main(argv: Sequence[str] | None = None, *, prog: str = "xneuro bench",
         path: str | os.PathLike | None = None) -> int:
    """``python -m benchmarks``: parse ``argv`` and run; ``path`` is the default ``--path``."""
    parser = add_runner_arguments(argparse.ArgumentParser(
        prog=prog, description="Run the xneuro benchmarks and write a JSON and markdown report."))
    if path is not None:
        parser.set_defaults(path=str(path))
    args = parser.parse_args(argv)
    try:
        return run_from_args(args, [prog, *(sys.argv[1:] if argv is None else argv)])
    except XneuroError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
