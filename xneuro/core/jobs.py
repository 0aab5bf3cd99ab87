"""Resumable jobs: compute units of work into regions of a pre-initialised Zarr store.

A long computation over an independent dimension (voxel chunks, stimulus
batches, sweep points) is split into *units*, each one chunk-aligned region of
``unit_dim``. The job

1. initialises the store once from a template (metadata and coordinates only,
   ``to_zarr(compute=False)``), stamped with provenance and a fingerprint of the
   resolved settings;
2. runs every pending unit as a dask task on the configured scheduler (threads
   by default, the default :class:`distributed.Client` when there is one); the
   task computes the unit, writes its region (``to_zarr(region=...)``) and, only
   after that write returns, records the unit as done;
3. keeps those records *beside* the store, in ``<path>.xneuro-job/``
   (``settings.json`` and ``done/<fingerprint>/<unit>``), so a copy of a partial
   store never looks finished, and keys them by the settings fingerprint, so a
   changed setting can never silently reuse old units.

Calling the same job again computes only the units not yet done; a worker that
dies costs only the units it held. While units are missing, the store's
``xneuro_job_status`` attribute is ``"incomplete"`` and :func:`xneuro.open`
warns about it.

Only local or shared (mounted) file systems are supported: every worker must see
``path`` under the same name.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import shutil
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
import zarr

from xneuro.core._job_run import raise_first_failure, run_distributed, run_local, unit_tasks
from xneuro.core._job_unit import (
    ComputeUnit,
    _describe,
    _differences,
    _fill_value,
    _now,
    _write_json_atomic,
)
from xneuro.core.chunks import choose_chunks, pick_unit_dim
from xneuro.core.errors import DimensionError, JobSettingsError, input_error
from xneuro.core.progress import current_client, wants_progress
from xneuro.core.provenance import fingerprint, stamp, to_json, xneuro_version
from xneuro.core.store import (
    _check_path,
    _load_coords,
    _write_quietly,
    is_zarr_store,
    prepare_dataset,
    remove_store,
)
from xneuro.core.store import open as open_store

__all__ = ["JOB_SUFFIX", "ResumableJob", "run_resumable"]

log = logging.getLogger("xneuro.core.jobs")

#: Suffix of the directory, beside the store, that holds a job's records.
JOB_SUFFIX = ".xneuro-job"
#: Root attribute of a job store: ``"incomplete"`` until every unit is done.
STATUS_ATTR = "xneuro_job_status"

class ResumableJob:
    """A job whose units of work are written to, and resumed from, a Zarr store.

    Constructing the job initialises the store (or checks an existing one);
    :meth:`run` computes the pending units.

    Parameters
    ----------
    path : str or PathLike
        Directory of the Zarr store. The job's records go to the sibling
        directory ``<path>.xneuro-job``.
    template : Dataset
        The result's final shape, dims, coordinates, dtypes and attrs. Values
        of data variables along ``unit_dim`` are not used (only their dtype);
        data variables without ``unit_dim`` and all coordinates are written
        once, when the store is initialised.
    settings : Mapping
        The resolved settings of the computation (JSON-like). With the
        template's layout, ``unit_dim``, ``unit_size`` and ``function`` they
        make the job's fingerprint.
    unit_dim : str, optional
        The independent dimension; by default as in
        :func:`xneuro.core.store.choose_chunks` (``voxel`` first).
    unit_size : int, optional
        Length of one unit (and one stored chunk) along ``unit_dim``; by
        default :func:`~xneuro.core.store.choose_chunks` picks it.
    function : str
        Recorded in the provenance attributes.
    fresh : bool, default False
        Remove an existing store and its records and start over.

    Attributes
    ----------
    path : pathlib.Path
        Absolute path of the store.
    records : pathlib.Path
        Directory of the job's records.
    unit_dim : str
        The unit dimension.
    unit_size : int
        Length of a unit.
    units : list of slice
        The region of each unit along ``unit_dim``.
    fingerprint : str
        Fingerprint of the resolved settings.

    Raises
    ------
    InputError
        For a wrong argument, or a ``path`` that exists without job records.
    JobSettingsError
        If the store was made with other settings (another fingerprint).

    Examples
    --------
    >>> job = ResumableJob("fit.zarr", template, settings={"alpha": 1.0})  # doctest: +SKIP
    >>> result = job.run(fit_unit, progress=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        template: xr.Dataset,
        *,
        settings: Mapping[str, Any],
        unit_dim: str | None = None,
        unit_size: int | None = None,
        function: str = "xneuro.core.jobs.run_resumable",
        fresh: bool = False,
    ) -> None:
        self.path = Path(os.path.abspath(_check_path(path)))
        self.records = Path(f"{self.path}{JOB_SUFFIX}")
        if not isinstance(template, xr.Dataset):
            raise input_error(
                "template",
                f"is a {type(template).__name__}",
                expected="an xarray Dataset with the result's final shape, coords and dtypes",
                fix="pass e.g. xr.Dataset({'r2': ('voxel', np.zeros(n))}, coords=...)"
                + (", or da.to_dataset(name=...)" if isinstance(template, xr.DataArray) else ""),
            )
        if not isinstance(fresh, bool):
            raise input_error("fresh", f"is {fresh!r}", expected="True or False")
        if not isinstance(function, str) or not function:
            raise input_error("function", f"is {function!r}", expected="a non-empty str")
        self.unit_dim = str(self._resolve_unit_dim(template, unit_dim))
        self.unit_size = self._resolve_unit_size(template, unit_size)
        n = int(template.sizes[self.unit_dim])
        self.units: list[slice] = [
            slice(start, min(start + self.unit_size, n)) for start in range(0, n, self.unit_size)
        ]
        # Coordinates are written at initialisation and hashed into the fingerprint.
        template = _load_coords(template)
        self.function = function
        self._settings = {
            "function": function,
            "settings": json.loads(to_json(settings)),
            "template": _describe(template),
            "unit_dim": self.unit_dim,
            "unit_size": self.unit_size,
        }
        self.fingerprint = fingerprint(self._settings)
        self._template = template
        self._prepare(fresh)

    # -- construction ---------------------------------------------------------

    @staticmethod
    def _resolve_unit_dim(template: xr.Dataset, unit_dim: str | None) -> Hashable:
        sizes = dict(template.sizes)
        if unit_dim is not None and unit_dim not in sizes:
            raise input_error(
                "unit_dim",
                f"{unit_dim!r} is not a dimension of the template",
                expected=f"one of {tuple(sizes)}",
                fix="pass the dimension along which units are independent",
                cls=DimensionError,
            )
        dim = unit_dim if unit_dim is not None else pick_unit_dim(sizes, None)
        if dim is None:
            raise input_error(
                "template",
                f"has dims {tuple(sizes)}, none of which can be split into units",
                expected="a dimension such as 'voxel' or 'stimulus'",
                fix="pass unit_dim=<the independent dimension>",
                cls=DimensionError,
            )
        if not any(dim in var.dims for var in template.data_vars.values()):
            raise input_error(
                "template",
                f"has no data variable along {dim!r}, so there is nothing to compute per unit",
                expected=f"at least one data variable with dim {dim!r}",
                fix="add the result variables to the template, or pass another unit_dim",
                cls=DimensionError,
            )
        return dim

    def _resolve_unit_size(self, template: xr.Dataset, unit_size: int | None) -> int:
        if unit_size is None:
            return int(choose_chunks(template, self.unit_dim)[self.unit_dim])
        if isinstance(unit_size, bool) or not isinstance(unit_size, int | np.integer):
            raise input_error(
                "unit_size",
                f"is {unit_size!r}",
                expected="a positive int (length of one unit along unit_dim)",
                fix="pass e.g. unit_size=1000, or leave it out to choose automatically",
            )
        if unit_size < 1:
            raise input_error("unit_size", f"is {unit_size}", expected="a positive int")
        return int(unit_size)

    @property
    def _settings_file(self) -> Path:
        return self.records / "settings.json"

    @property
    def _initialized_file(self) -> Path:
        return self.records / "initialized"

    @property
    def _done_dir(self) -> Path:
        return self.records / "done" / self.fingerprint

    def _prepare(self, fresh: bool) -> None:
        if fresh:
            self._remove()
        if self._settings_file.is_file():
            with builtins.open(self._settings_file, encoding="utf-8") as file:
                recorded = json.load(file)
            old = recorded.get("fingerprint")
            if old != self.fingerprint:
                changed = _differences(recorded.get("settings"), self._settings)
                raise input_error(
                    "settings",
                    f"the job store {os.fspath(self.path)!r} was made with settings fingerprint "
                    f"{old}, but this call's settings have fingerprint {self.fingerprint}"
                    + (f" (changed: {', '.join(changed)})" if changed else ""),
                    expected="the same settings, template layout, unit_dim and unit_size to resume",
                    fix="pass fresh=True to discard the store and its records and start "
                    "over, or choose another path",
                    cls=JobSettingsError,
                )
            if self._initialized_file.is_file() and is_zarr_store(self.path):
                stored = zarr.open_group(os.fspath(self.path), mode="r").attrs.get(
                    "xneuro_fingerprint"
                )
                if stored != self.fingerprint:
                    raise input_error(
                        "path",
                        f"the store {os.fspath(self.path)!r} has fingerprint {stored}, but its "
                        f"records in {os.fspath(self.records)!r} have {self.fingerprint}; the "
                        "store was replaced by another job's",
                        fix="pass fresh=True to start over, or choose another path",
                        cls=JobSettingsError,
                    )
                log.info(
                    "resuming job %s: %d of %d units done",
                    self.path,
                    len(self.done()),
                    len(self.units),
                )
                return
            # Initialisation never finished (or the store was deleted): start again.
            log.info("re-initialising job store %s", self.path)
            remove_store(self.path)
            shutil.rmtree(self.records / "done", ignore_errors=True)
            self._initialize()
            return
        if self.path.exists():
            raise input_error(
                "path",
                f"{os.fspath(self.path)!r} exists but has no job records beside it "
                f"({os.fspath(self.records)!r}), so which units are done is unknown",
                expected="a new path, or the path of an earlier run of this job",
                fix="pass fresh=True to replace it, or choose another path",
            )
        self._initialize()

    def _remove(self) -> None:
        if self.records.exists():
            known = {"settings.json", "initialized", "done"}
            unknown = [
                entry.name
                for entry in self.records.iterdir()
                if entry.name not in known and not entry.name.endswith(".tmp")
            ]
            if unknown:
                raise input_error(
                    "path",
                    f"{os.fspath(self.records)!r} holds files that are not job records, so "
                    "fresh=True will not delete it",
                    fix="remove it yourself, or choose another path",
                )
        remove_store(self.path)
        shutil.rmtree(self.records, ignore_errors=True)

    def _initialize(self) -> None:
        log.info("initialising job store %s (%d units)", self.path, len(self.units))
        _write_json_atomic(
            self._settings_file,
            {
                "fingerprint": self.fingerprint,
                "settings": self._settings,
                "store": os.fspath(self.path),
                "created": _now(),
                "xneuro_version": xneuro_version(),
                "units": len(self.units),
            },
        )
        template = self._template
        unit_vars, static = {}, {}
        for name, var in template.data_vars.items():
            if self.unit_dim in var.dims:
                fill = _fill_value(var.dtype)
                shape, dtype = var.shape, var.dtype
                data = (
                    dsa.zeros(shape, dtype=dtype)
                    if fill is None
                    else dsa.full(shape, fill, dtype=dtype)
                )
                unit_vars[name] = xr.Variable(var.dims, data, attrs=var.attrs)
                unit_vars[name].encoding = var.encoding
            else:
                static[name] = var.variable.compute()
        ds = xr.Dataset({**unit_vars, **static}, coords=template.coords, attrs=template.attrs)
        ds = stamp(ds, self.function, self._settings)
        ds.attrs[STATUS_ATTR] = "incomplete"
        ds, encoding = prepare_dataset(ds, {self.unit_dim: self.unit_size})
        # Static variables must stay in memory: with compute=False, only
        # dask-backed variables are deferred (and never written here).
        ds = ds.assign(static)
        _write_quietly(
            ds.to_zarr,
            os.fspath(self.path),
            mode="w-",
            encoding=encoding,
            compute=False,
            consolidated=True,
            zarr_format=3,
        )
        _write_json_atomic(self._initialized_file, {"initialized": _now()})

    # -- state ----------------------------------------------------------------

    def done(self) -> set[int]:
        """Return the indices of the units recorded as done.

        Returns
        -------
        set of int
            Units whose region write returned and whose record exists.
        """
        if not self._done_dir.is_dir():
            return set()
        n = len(self.units)
        return {
            int(name) for name in os.listdir(self._done_dir) if name.isdigit() and int(name) < n
        }

    def pending(self) -> list[int]:
        """Return the indices of the units still to compute, in order.

        Returns
        -------
        list of int
            Units not recorded as done.
        """
        done = self.done()
        return [index for index in range(len(self.units)) if index not in done]

    def is_complete(self) -> bool:
        """Return whether every unit is recorded as done.

        Returns
        -------
        bool
            True when no unit is pending.
        """
        return not self.pending()

    def open(self) -> xr.Dataset:
        """Reopen the store lazily (warns while units are missing).

        Returns
        -------
        Dataset
            The dask-backed result.
        """
        result = open_store(self.path)
        assert isinstance(result, xr.Dataset)
        return result

    def __repr__(self) -> str:
        return (
            f"<ResumableJob {os.fspath(self.path)!r}: {len(self.done())}/{len(self.units)} units "
            f"done, unit_dim={self.unit_dim!r}, unit_size={self.unit_size}, "
            f"fingerprint={self.fingerprint}>"
        )

    def _mark_complete(self) -> None:
        group = zarr.open_group(os.fspath(self.path), mode="r+")
        if group.attrs.get(STATUS_ATTR) == "complete":
            return
        group.attrs.update({STATUS_ATTR: "complete"})
        _write_quietly(zarr.consolidate_metadata, os.fspath(self.path), zarr_format=3)

    # -- running --------------------------------------------------------------

    def run(self, compute_unit: ComputeUnit, *, progress: bool | None = None) -> xr.Dataset:
        """Compute the pending units, each writing its region and then its record.

        Units run as dask tasks on the configured scheduler: the default
        :class:`distributed.Client` when there is one, dask's local scheduler
        otherwise. The task that computes a unit also writes it and returns
        only a small status. Every pending unit is attempted even if some
        fail; the first failure is then raised, with the others' work kept.

        Parameters
        ----------
        compute_unit : callable
            ``compute_unit(index, region)`` returns the unit's results: a
            Dataset with the template's data variables along ``unit_dim``
            over ``region`` (a slice of ``unit_dim``), other dims whole. A
            DataArray is accepted when the template has one such variable.
            With a distributed cluster it must pickle (module-level functions
            and closures over small values do); load big models lazily per
            worker rather than capturing them.
        progress : bool, optional
            Show a progress bar (tqdm locally, tqdm over ``as_completed`` on
            a cluster); ``None`` takes the ``progress`` option.

        Returns
        -------
        Dataset
            The complete result, reopened lazily from the store.

        Raises
        ------
        Exception
            The first unit failure (a unit's own exception, an
            :class:`~xneuro.core.errors.InputError` for a malformed block, or
            ``distributed.KilledWorker``), with a note on how to resume.
        """
        if not callable(compute_unit):
            raise input_error(
                "compute_unit",
                f"is a {type(compute_unit).__name__}",
                expected="a function compute_unit(index, region) -> xr.Dataset",
                fix="pass the function that computes one unit",
            )
        pending = self.pending()
        if not pending:
            self._mark_complete()
            return self.open()
        log.info("job %s: %d of %d units pending", self.path, len(pending), len(self.units))
        client = current_client()
        tasks = unit_tasks(self, compute_unit, pending, capture=client is None)
        show = wants_progress(progress)
        name = f"units of {self.path.name}"
        if client is not None:
            failures = run_distributed(client, tasks, pending, show, name)
        else:
            failures = run_local(tasks, show, name)
        # A task can fail after its unit was recorded (its worker died before the
        # status was gathered); such a unit is done and not a failure.
        done = self.done()
        failures = [failure for failure in failures if failure["unit"] not in done]
        if failures:
            raise_first_failure(self, failures)
        if not self.is_complete():  # pragma: no cover - every unit returned a status
            raise RuntimeError(
                f"job {os.fspath(self.path)!r}: units {self.pending()} were not recorded; "
                "run the same call again to compute them"
            )
        self._mark_complete()
        return self.open()


def run_resumable(
    path: str | os.PathLike[str],
    template: xr.Dataset,
    compute_unit: ComputeUnit,
    *,
    settings: Mapping[str, Any],
    unit_dim: str | None = None,
    unit_size: int | None = None,
    function: str = "xneuro.core.jobs.run_resumable",
    fresh: bool = False,
    progress: bool | None = None,
) -> xr.Dataset:
    """Compute a result unit by unit into a Zarr store, resuming where a former call stopped.

    Parameters
    ----------
    path : str or PathLike
        Directory of the Zarr store; records go to ``<path>.xneuro-job``.
    template : Dataset
        The result's final shape, dims, coordinates, dtypes and attrs.
    compute_unit : callable
        ``compute_unit(index, region) -> Dataset`` for one region of ``unit_dim``.
    settings : Mapping
        The resolved settings of the computation (JSON-like).
    unit_dim : str, optional
        The independent dimension (default as in :func:`~xneuro.core.store.choose_chunks`).
    unit_size : int, optional
        Length of one unit along ``unit_dim`` (default from the chunk-size target).
    function : str
        Recorded in the provenance attributes.
    fresh : bool, default False
        Discard an existing store and its records and start over.
    progress : bool, optional
        Show a progress bar; ``None`` takes the ``progress`` option.

    Returns
    -------
    Dataset
        The complete result, reopened lazily.

    Raises
    ------
    JobSettingsError
        If ``path`` holds a job made with other settings; pass ``fresh=True``
        or another path.
    InputError
        For a wrong argument or a malformed unit result.

    See Also
    --------
    ResumableJob : the same, step by step.

    Examples
    --------
    >>> def fit_unit(index, region):  # doctest: +SKIP
    ...     return fit(bold.isel(voxel=region))
    >>> result = run_resumable("fit.zarr", template, fit_unit, settings={"alpha": 1.0})  # doctest: +SKIP
    """
    job = ResumableJob(
        path,
        template,
        settings=settings,
        unit_dim=unit_dim,
        unit_size=unit_size,
        function=function,
        fresh=fresh,
    )
    return job.run(compute_unit, progress=progress)
