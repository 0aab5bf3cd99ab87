"""Benchmark rows as tables: plain text for the terminal, markdown for the README."""

from __future__ import annotations

from collections.abc import Sequence

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
