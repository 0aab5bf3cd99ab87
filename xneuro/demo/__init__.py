"""``xneuro demo``: every capability, run on the embedded sample data.

Each capability adds one stage: a module in this package that decorates a
function with :func:`stage`, giving it a name, a title and an ``order`` (stages
run by increasing order, so later ones can use what earlier ones stored in
``context.shared``). A stage receives a :class:`DemoContext`, writes Zarr
stores and PNG figures under ``context.out`` and returns lines of report.
Stage modules are found by name: adding one touches no other file.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xneuro.core.errors import input_error

__all__ = ["STAGES", "DemoContext", "Stage", "load_stages", "run_demo", "stage"]

logger = logging.getLogger("xneuro.demo")


@dataclass
class DemoContext:
    """What the stages share: the output folder and objects earlier stages made."""

    out: Path
    progress: bool = True
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One demo stage."""

    name: str
    title: str
    order: int
    run: Callable[[DemoContext], list[str]]


STAGES: dict[str, Stage] = {}


def stage(
    name: str, title: str, order: int
) -> Callable[[Callable[[DemoContext], list[str]]], Any]:
    """Register a function as the demo stage ``name``, run at position ``order``."""

    def register(func: Callable[[DemoContext], list[str]]) -> Callable[[DemoContext], list[str]]:
        STAGES[name] = Stage(name, title, order, func)
        return func

    return register


def load_stages() -> dict[str, Stage]:
    """Import every stage module and return the stages in run order."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(STAGES.items(), key=lambda item: (item[1].order, item[0])))


def run_demo(
    out: str | Path = "xneuro-demo",
    stages: Iterable[str] | None = None,
    *,
    progress: bool = True,
    report: Callable[[str], None] = logger.info,
) -> dict[str, float]:
    """Run the demo stages on the sample data.

    Parameters
    ----------
    out : path
        Folder for the Zarr stores and PNG figures (created if missing).
    stages : iterable of str, optional
        Stage names to run, in registry order; all by default.
    progress : bool
        Show progress bars.
    report : callable
        Receives each line of the report (the CLI prints them).

    Returns
    -------
    dict
        Stage name to seconds taken.
    """
    available = load_stages()
    chosen = list(available) if stages is None else list(stages)
    unknown = [s for s in chosen if s not in available]
    if unknown:
        raise input_error(
            "stages", f"unknown stage(s) {unknown}", expected=f"names from {list(available)}"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = DemoContext(out=out, progress=progress)
    timings: dict[str, float] = {}
    for name in available:
        if name not in chosen:
            continue
        entry = available[name]
        report(f"== {entry.name}: {entry.title}")
        start = time.perf_counter()
        for line in entry.run(context):
            report(f"   {line}")
        timings[name] = time.perf_counter() - start
        report(f"   ({timings[name]:.1f} s)")
    return timings
