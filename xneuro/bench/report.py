"""Benchmark rows as tables: plain text for the terminal, markdown for the README."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xneuro.bench.harness import Result

COLUMNS = ("benchmark", "case", "size", "who", "seconds", "throughput", "peak MB",
           "vs xneuro", "load")


def speedups(results: Sequence[Result]) -> dict[int, float]:
    """Peer rows' time over xneuro's time for the same (benchmark, case, size, device).

    Keys are indices into ``results``; a value of 5.0 means xneuro did the same
    work 5 times faster than that peer.
    """
    ours = {(r.benchmark, r.case, r.size, r.device): r.seconds
            for r in results if r.who == "xneuro" and r.seconds == r.seconds}
    out = {}
    for i, r in enumerate(results):
        key = (r.benchmark, r.case, r.size, r.device)
        if r.who != "xneuro" and key in ours and ours[key] > 0 and r.seconds == r.seconds:
            out[i] = r.seconds / ours[key]
    return out


def _cells(results: Sequence[Result]) -> list[list[str]]:
    ratio = speedups(results)
    rows = []
    for i, r in enumerate(results):
        who = r.who + (" (recorded)" if r.source == "recorded" else "")
        throughput = f"{r.throughput:.3g} {r.unit}" if r.throughput is not None else ""
        if r.hw_fraction is not None:
            throughput += f" ({100 * r.hw_fraction:.0f}% of peak)"
        rows.append([r.benchmark, r.case, r.size, who, _seconds(r.seconds), throughput,
                     "" if r.peak_host_mb is None else f"{r.peak_host_mb:.0f}"
                     + ("" if r.peak_gpu_mb is None else f" / GPU {r.peak_gpu_mb:.0f}"),
                     f"{ratio[i]:.2f}x" if i in ratio else "",
                     "" if r.load is None else f"{r.load:.1f}"])
    return rows


def _seconds(value: float) -> str:
    if value != value:
        return "failed"
    return f"{value:.3g}"


def text_table(results: Sequence[Result]) -> str:
    """An aligned plain-text table of ``results`` (``vs xneuro`` = peer s / xneuro s)."""
    rows = [list(COLUMNS), *_cells(results)]
    widths = [max(len(row[j]) for row in rows) for j in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def markdown_table(results: Sequence[Result]) -> str:
    """A GitHub-flavoured markdown table of ``results``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in _cells(results):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    return "\n".join(lines)


#: Columns of :func:`scaling_table`.
SCALING_COLUMNS = ("benchmark", "case", "size", "who", "workers", "seconds", "speedup",
                   "efficiency")


def scaling(results: Sequence[Result]) -> list[dict[str, object]]:
    """Strong-scaling figures of the rows measured on Dask clusters of several sizes.

    Rows are grouped by (benchmark, case, size, who, device); a group with at
    least two worker counts (``workers > 0``) gives one entry per count, in
    worker order. With ``t1`` the time at the fewest workers ``n1`` (1 in a
    ``--workers 1,2`` run), the entry for ``N`` workers has ``speedup =
    t1 / tN`` and ``efficiency = (n1 * t1) / (N * tN)``, i.e. ``t1 / (N * tN)``
    when ``n1 == 1``; a failed time (NaN) gives ``None``.

    Parameters
    ----------
    results : sequence of Result
        Rows of several runs of the same benchmarks at different ``--workers``.

    Returns
    -------
    list of dict
        Keys: benchmark, case, size, who, device, workers, seconds, speedup,
        efficiency.
    """
    groups: dict[tuple[str, ...], dict[int, float]] = {}
    for r in results:
        if r.workers > 0:
            key = (r.benchmark, r.case, r.size, r.who, r.device)
            groups.setdefault(key, {})[r.workers] = r.seconds
    out: list[dict[str, object]] = []
    for (benchmark, case, size, who, device), times in groups.items():
        if len(times) < 2:
            continue
        base_workers = min(times)
        base = times[base_workers]
        for workers in sorted(times):
            seconds = times[workers]
            ok = seconds == seconds and base == base and seconds > 0
            out.append({"benchmark": benchmark, "case": case, "size": size, "who": who,
                        "device": device, "workers": workers, "seconds": seconds,
                        "speedup": base / seconds if ok else None,
                        "efficiency": base_workers * base / (workers * seconds) if ok else None})
    return out


def scaling_table(results: Sequence[Result]) -> str:
    """:func:`scaling` as a markdown table ("" when no row was run at two worker counts)."""
    entries = scaling(results)
    if not entries:
        return ""
    lines = ["| " + " | ".join(SCALING_COLUMNS) + " |", "|" + "---|" * len(SCALING_COLUMNS)]
    for e in entries:
        cells = [str(e["benchmark"]), str(e["case"]), str(e["size"]), str(e["who"]),
                 str(e["workers"]), _seconds(float(e["seconds"])),  # type: ignore[arg-type]
                 "" if e["speedup"] is None else f"{e['speedup']:.2f}x",
                 "" if e["efficiency"] is None else f"{100 * e['efficiency']:.0f}%"]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def markdown_report(header: dict[str, Any], runs: Sequence[Any]) -> str:
    """The markdown report of a ``xneuro bench`` run.

    Parameters
    ----------
    header : dict
        ``created``, ``argv``, ``options`` (size, device, workers, scheduler),
        ``wall_seconds``, ``machine`` and ``versions``, as the runner's JSON.
    runs : sequence of ScriptRun
        One per script run (name, workers, status, wall_seconds, reason, rows).

    Returns
    -------
    str
        A header (command, machine, versions), the status of every script, a
        table per script run with the peer ratio column and the rows' notes,
        and the scaling efficiency table when rows were run at several worker
        counts.
    """
    mach, vers, opts = header["machine"], header["versions"], header["options"]
    gpus = ", ".join(mach.get("gpus") or []) or "none"
    lines = [f"# xneuro benchmarks, {header['created'].replace('T', ' ')}", "",
             f"- command: `{' '.join(header['argv'])}`",
             f"- size {opts['size']}, device {opts['device']}"
             + (f", workers {opts['workers']}" if opts.get("workers") else "")
             + (f", scheduler {opts['scheduler']}" if opts.get("scheduler") else ""),
             f"- machine: {mach.get('cpu_model', '?')}, {mach.get('cpus', '?')} CPUs, "
             f"{mach.get('memory_gb', '?')} GB, GPUs: {gpus}; {mach.get('platform', '')}",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
             f"- total wall time {header['wall_seconds']:.0f} s; the load column is the "
             "1-minute load average when the row was measured (other jobs share the CPUs)",
             "- `vs xneuro` = the peer's seconds / xneuro's seconds for the same case "
             "(> 1: xneuro is faster); `(recorded)` rows are figures copied from the "
             "reference notes (another machine and load)", "",
             "## Scripts", "", "| benchmark | workers | status | wall s | note |",
             "|---|---|---|---|---|"]
    for run in runs:
        note = run.reason.replace("\n", " ").replace("|", "/")
        if run.status in ("failed", "timeout"):
            note = note[-300:]
        lines.append(f"| {run.name} | {'' if run.workers is None else run.workers} | "
                     f"{run.status} | {run.wall_seconds:.1f} | {note} |")
    for run in runs:
        if not run.rows:
            continue
        title = f"## {run.name}" + ("" if run.workers is None else f" (--workers {run.workers})")
        lines += ["", title, "", markdown_table(run.rows)]
        notes = [f"- {r.who}, {r.case}, {r.size}: {r.note}" for r in run.rows if r.note]
        if notes:
            lines += ["", *notes]
    scaling = scaling_table([r for run in runs for r in run.rows])
    if scaling:
        lines += ["", "## Scaling", "",
                  "Efficiency = (n1 x t1) / (N x tN) against the fewest workers n1 "
                  "(t1 / (N x tN) when n1 = 1); speedup = t1 / tN.", "", scaling]
    return "\n".join(lines) + "\n"
