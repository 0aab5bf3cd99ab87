"""Running a :class:`~xneuro.core.jobs.ResumableJob`'s pending units as dask tasks.

Each unit becomes one task that computes the unit, writes its region and
records it (:func:`xneuro.core._job_unit._run_unit`); the task returns only a
small status. Tasks run on dask's local scheduler or on a distributed client,
and every pending unit is attempted before the first failure is raised.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

import dask
import numpy as np

from xneuro.core._job_unit import ComputeUnit, _run_unit
from xneuro.core.progress import progress_bar

if TYPE_CHECKING:
    from xneuro.core.jobs import ResumableJob


def unit_tasks(job: ResumableJob, compute_unit: ComputeUnit, pending: list[int],
               capture: bool) -> list[Any]:
    """One delayed task per pending unit; ``capture`` keeps tracebacks in the status."""
    template, unit_dim = job._template, job.unit_dim
    spec = {
        "store": os.fspath(job.path),
        "done_dir": os.fspath(job._done_dir),
        "unit_dim": unit_dim,
        "sizes": {str(d): int(s) for d, s in template.sizes.items()},
        "variables": {
            str(name): (tuple(map(str, var.dims)), var.dtype.str)
            for name, var in template.data_vars.items()
            if unit_dim in var.dims
        },
        "static": [
            str(name) for name, var in template.data_vars.items() if unit_dim not in var.dims
        ],
        "capture": capture,
    }
    index = template.indexes.get(unit_dim)
    token = uuid.uuid4().hex[:8]
    run_unit = dask.delayed(_run_unit, pure=False)
    return [
        run_unit(
            spec,
            compute_unit,
            i,
            job.units[i].start,
            job.units[i].stop,
            None if index is None else np.asarray(index[job.units[i]]),
            dask_key_name=f"xneuro-unit-{job.fingerprint}-{i}-{token}",
        )
        for i in pending
    ]


def run_local(tasks: list[Any], show: bool, name: str) -> list[dict[str, Any]]:
    """Compute ``tasks`` on dask's local scheduler; return the failed units' statuses."""
    if show:
        from tqdm.dask import TqdmCallback

        with TqdmCallback(desc=name):
            statuses = dask.compute(*tasks)
    else:
        statuses = dask.compute(*tasks)
    return [status for status in statuses if status["error"] is not None]


def run_distributed(client: Any, tasks: list[Any], pending: list[int], show: bool,
                    name: str) -> list[dict[str, Any]]:
    """Compute ``tasks`` on ``client`` as they complete; return the failures."""
    from distributed import as_completed

    futures = client.compute(tasks)
    unit_of = {future.key: i for future, i in zip(futures, pending, strict=True)}
    failures = []
    with progress_bar(total=len(futures), desc=name, progress=show) as bar:
        for future in as_completed(futures, loop=client.loop):
            try:
                future.result()
            except Exception as error:
                failures.append({"unit": unit_of[future.key], "error": error, "traceback": None})
            bar.update(1)
    del futures
    return failures


def raise_first_failure(job: ResumableJob, failures: list[dict[str, Any]]) -> None:
    """Raise the first failed unit's error, noting what is done and how to resume."""
    failures = sorted(failures, key=lambda failure: failure["unit"])
    first = failures[0]
    error: BaseException = first["error"]
    unit = job.units[first["unit"]]
    others = [failure["unit"] for failure in failures[1:]]
    note = (
        f"xneuro: unit {first['unit']} ({job.unit_dim} {unit.start}:{unit.stop}) of job "
        f"{os.fspath(job.path)!r} failed"
        + (f", and {len(others)} more (units {others[:20]})" if others else "")
        + f"; {len(job.done())} of {len(job.units)} units are done and recorded. Fix the cause "
        "and run the same call again: only the pending units are computed."
    )
    if error.__traceback__ is None and first.get("traceback"):
        note += "\nTraceback of the unit:\n" + first["traceback"]
    error.add_note(note)
    raise error
