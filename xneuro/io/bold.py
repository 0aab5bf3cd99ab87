"""BOLD runs from image files: ``(time, voxel)``, lazy, several runs joined along time.

:func:`load_bold` reads one run or several (NIfTI, MGH, CIFTI dense series,
GIFTI per hemisphere), checks that they share one voxel grid and one TR,
cleans each run on request (polynomial detrending, z-scoring) and joins them
along ``time`` with a ``run`` coord. Nothing is read from the data parts until
the result is computed (except for a threshold mask, which reads the mean
image, and GIFTI, which is XML and read whole).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.schema import as_timeseries
from xneuro.io._objects import space_attrs
from xneuro.io._signal import detrend_block, float_dtype, zscore_block
from xneuro.io.masks import AFFINE_TOLERANCE
from xneuro.io.read import open_any

__all__ = ["clean_runs", "load_bold"]

logger = logging.getLogger("xneuro.io.bold")

_RUN_ENTITY = re.compile(r"(?:^|_)run-([0-9]+)")
_GRID_COORDS = ("i", "j", "k", "structure", "vertex")


def _runs_list(runs: Any) -> list[Any]:
    if isinstance(runs, str | os.PathLike | tuple):
        return [runs]
    if isinstance(runs, Sequence) and runs:
        return list(runs)
    raise input_error("runs", f"is {runs!r}",
                      expected="a path, a list of paths (one per run), or a (left, right) "
                      "tuple of GIFTI files", fix="pass e.g. ['run-1_bold.nii.gz', "
                      "'run-2_bold.nii.gz']")


def _name(run: Any) -> str:
    return os.fspath(run[0] if isinstance(run, tuple) else run)


def _run_labels(runs: list[Any], labels: Sequence[Any] | None) -> list[Any]:
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(runs) or len(set(map(str, labels))) != len(labels):
            raise input_error("run_labels", f"is {labels!r} for {len(runs)} runs",
                              expected="one distinct label per run",
                              fix=f"pass {len(runs)} distinct labels")
        return labels
    found = [_RUN_ENTITY.search(os.path.basename(_name(r))) for r in runs]
    numbers = [int(m.group(1)) for m in found if m]
    if len(numbers) == len(runs) and len(set(numbers)) == len(numbers):
        return numbers
    return list(range(1, len(runs) + 1))


def _check_order(order: Any, argument: str) -> int:
    if order is False or order is None:
        return 0
    if order is True:
        return 1
    if isinstance(order, int | np.integer) and not isinstance(order, bool) and order >= 0:
        return int(order)
    raise input_error(argument, f"is {order!r}", expected="False, True (linear) or a "
                      "polynomial degree >= 0", fix="pass detrend=True or detrend=2")


def clean_runs(bold: xr.DataArray, *, detrend: bool | int = False,
               zscore: bool = False) -> xr.DataArray:
    """Detrend and/or z-score each run of a ``(time, voxel)`` array separately.

    Parameters
    ----------
    bold : DataArray
        ``(time, voxel)``, time in one chunk per run if dask-backed; runs are
        told apart by a ``run`` coord on ``time`` (the whole array is one run
        without it).
    detrend : bool or int, default False
        Remove polynomial trends of degree 1..``detrend`` (True: linear) from
        each voxel of each run; the run's mean is kept.
    zscore : bool, default False
        Then z-score each voxel within each run (``ddof=0``; constant voxels
        become 0).

    Returns
    -------
    DataArray
        Same dims, coords and attrs; float32 (float64 for float64 input);
        lazy for dask input.
    """
    order = _check_order(detrend, "detrend")
    if not isinstance(zscore, bool | np.bool_):
        raise input_error("zscore", f"is {zscore!r}", expected="True or False",
                          fix="pass zscore=True")
    if not order and not zscore:
        return bold
    bold = as_timeseries(bold, argument="bold")
    dtype = float_dtype(bold.dtype)

    def kernel(block: np.ndarray) -> np.ndarray:
        out = detrend_block(block, order) if order else block.astype(dtype)
        return zscore_block(out) if zscore else out

    def one_run(run: xr.DataArray) -> xr.DataArray:
        if run.chunks is not None:
            data = run.data.rechunk({0: -1}).map_blocks(kernel, dtype=dtype)
        else:
            data = kernel(np.asarray(run.values))
        return run.copy(data=data)

    if "run" not in bold.coords:
        cleaned = one_run(bold)
    else:
        runs = [one_run(part) for _, part in bold.groupby("run")]
        cleaned = xr.concat(runs, dim="time", coords="minimal", compat="override",
                            join="override", combine_attrs="override")
        cleaned = cleaned.sortby("time") if not cleaned.indexes["time"].is_monotonic_increasing \
            else cleaned
    cleaned.attrs = {**bold.attrs, "detrend": order, "zscore": bool(zscore)}
    return cleaned


def _same_grid(first: xr.DataArray, other: xr.DataArray, label: Any, first_label: Any) -> None:
    problems = []
    if first.sizes["voxel"] != other.sizes["voxel"]:
        problems.append(f"{first.sizes['voxel']} vs {other.sizes['voxel']} voxels")
    else:
        for name in _GRID_COORDS:
            if name in first.coords and not np.array_equal(first[name].values, other[name].values):
                problems.append(f"coord {name!r} differs")
                break
    for key in ("volume_shape", "affine"):
        a, b = space_attrs(first).get(key), space_attrs(other).get(key)
        if a is not None and b is not None and (
            np.shape(a) != np.shape(b) or not np.allclose(a, b, atol=AFFINE_TOLERANCE)
        ):
            problems.append(f"{key} {a} vs {b}")
    if problems:
        raise input_error("runs", f"run {label!r} is on another voxel grid than run "
                          f"{first_label!r} ({'; '.join(problems)})", cls=DimensionError,
                          expected="runs of one subject in one space",
                          fix="resample the runs to one grid first, or load them separately")


def _one_run(run: Any, *, mask: Any, chunks: Any, tr: float | None, dtype: Any,
             unpack_to: Any, argument: str) -> tuple[xr.DataArray, float]:
    da = open_any(run, mask=mask, chunks=chunks, dtype=dtype, unpack_to=unpack_to,
                  argument=argument)
    name = _name(run)
    if "voxel_" in da.dims:
        raise input_error(argument, f"{name!r} is a dense connectome (.dconn)",
                          cls=DimensionError, expected="a BOLD time series",
                          fix="use xneuro.io.load_image for connectivity matrices")
    row = [d for d in da.dims if d != "voxel"]
    if not row:
        raise input_error(argument, f"{name!r} holds a single 3-D volume (dims {da.dims}, "
                          f"{da.sizes['voxel']} voxels), not a time series", cls=DimensionError,
                          expected="a 4-D (i, j, k, time) NIfTI/MGH, a CIFTI .dtseries.nii "
                          "or a GIFTI time series", fix="pass the 4-D BOLD run; use "
                          "xneuro.io.load_image for maps and masks")
    if row[0] == "map":
        raise input_error(argument, f"{name!r} is a CIFTI scalar/label file with maps "
                          f"{list(da['map'].values)[:5]}", cls=DimensionError,
                          expected="a CIFTI dense time series (.dtseries.nii)",
                          fix="use xneuro.io.load_image for .dscalar.nii/.dlabel.nii files")
    header_tr = da.attrs.get("tr", da.attrs.get("header_tr"))
    if tr is None:
        if header_tr is None or not header_tr > 0:
            raise input_error("tr", f"is not given and the header of {name!r} holds no "
                              "repetition time", expected="the seconds between volumes",
                              fix="pass tr=, e.g. tr=1.5")
        tr = float(header_tr)
    elif header_tr is not None and not np.isclose(header_tr, tr, rtol=1e-3):
        logger.info("%s: header TR %g s overridden by tr=%g", name, header_tr, tr)
    da = da.rename({row[0]: "time"}) if row[0] != "time" else da
    return da, tr


def load_bold(
    runs: Any,
    *,
    mask: Any = None,
    chunks: int | Mapping[str, int] | str | None = None,
    tr: float | None = None,
    dtype: Any = None,
    detrend: bool | int = False,
    zscore: bool = False,
    run_labels: Sequence[Any] | None = None,
    unpack_to: str | os.PathLike[str] | None = None,
) -> xr.DataArray:
    """Load BOLD runs as a lazy ``(time, voxel)`` DataArray.

    Parameters
    ----------
    runs : path, tuple of paths, or list of them
        One run: a 4-D NIfTI/MGH file, a CIFTI ``.dtseries.nii``, or a
        ``(left, right)`` tuple of GIFTI functional files. A list holds one
        such entry per run.
    mask : optional
        Which voxels to keep: a mask file, nibabel image, 3-D array, labeled
        DataArray or float threshold on the mean image for volumes; a 1-D
        boolean array for CIFTI/GIFTI. The same mask applies to every run; a
        mask on another grid raises an error naming both grids.
    chunks : int, {"voxel": int}, "auto" or None
        Voxels per dask chunk (time is never split); default about 32 MiB per
        chunk, or dask's ``array.chunk-size`` for gzip files (see
        :func:`xneuro.io.load_image`). Computing the whole array (``.values``)
        holds it about twice at its peak: dask copies the chunks into the result.
    tr : float, optional
        Seconds between volumes; default from the header (NIfTI ``pixdim[4]``
        in its time unit, MGH ``tr`` in ms, CIFTI series step, GIFTI
        ``TimeStep``). Required when the header has none.
    dtype : dtype, optional
        Dtype of the values; default the on-disk dtype, float32 where the
        header scales values. Cleaning returns float32 (float64 for float64).
    detrend : bool or int, default False
        Per run, remove polynomial trends of degree 1..``detrend`` (True:
        linear), keeping each run's mean.
    zscore : bool, default False
        Per run, z-score each voxel (after detrending).
    run_labels : sequence, optional
        Labels of the runs for the ``run`` coord; default the BIDS ``run-<n>``
        entity of each file name when all have one, else 1, 2, ...
    unpack_to : path, optional
        Folder where gzip-compressed runs are decompressed once (see
        :func:`xneuro.io.load_image`).

    Returns
    -------
    xarray.DataArray
        Named ``bold``, dims ``("time", "voxel")``, dask-backed and chunked
        over voxels. ``time`` in seconds runs on across runs (run ``r`` starts
        where run ``r - 1`` ended); coord ``run`` on ``time``; voxel coords as
        in :func:`xneuro.io.load_image`; attrs ``tr``, ``affine``,
        ``volume_shape``, ``header``, ``source`` (one path per run).

    Raises
    ------
    InputError
        For a missing, unreadable or truncated file, a 3-D image or CIFTI
        scalar file, no TR, runs on different grids or with different TRs, or
        a mask on another grid (naming both).

    Examples
    --------
    >>> bold = xneuro.io.load_bold("sub-01_task-prf_run-1_bold.nii.gz",
    ...                            mask="sub-01_brainmask.nii.gz",
    ...                            chunks={"voxel": 20_000})  # doctest: +SKIP
    """
    if tr is not None and (isinstance(tr, bool) or not isinstance(tr, int | float | np.number)
                           or not (np.isfinite(tr) and tr > 0)):
        raise input_error("tr", f"is {tr!r}", expected="a positive number of seconds",
                          fix="pass e.g. tr=1.5, or leave it out to read it from the header")
    run_list = _runs_list(runs)
    labels = _run_labels(run_list, run_labels)
    loaded: list[xr.DataArray] = []
    trs: list[float] = []
    for n, run in enumerate(run_list):
        argument = "runs" if len(run_list) == 1 else f"runs[{n}]"
        da, run_tr = _one_run(run, mask=mask, chunks=chunks, tr=tr, dtype=dtype,
                              unpack_to=unpack_to, argument=argument)
        if loaded:
            _same_grid(loaded[0], da, labels[n], labels[0])
            if not np.isclose(run_tr, trs[0], rtol=1e-3):
                raise input_error("runs", f"run {labels[n]!r} has TR {run_tr:g} s but run "
                                  f"{labels[0]!r} has {trs[0]:g} s",
                                  expected="one TR for all runs",
                                  fix="load runs with different TRs separately")
        loaded.append(da)
        trs.append(run_tr)
    tr0 = trs[0]
    start = 0.0
    parts = []
    for label, da in zip(labels, loaded, strict=True):
        n_time = da.sizes["time"]
        time = start + tr0 * np.arange(n_time)
        start += tr0 * n_time
        part = da.assign_coords(time=("time", time, {"units": "s"}),
                                run=("time", np.full(n_time, label)))
        parts.append(clean_runs(part.drop_vars("run"), detrend=detrend, zscore=zscore)
                     .assign_coords(run=part["run"]))
    bold = parts[0] if len(parts) == 1 else xr.concat(
        parts, dim="time", coords="minimal", compat="override", join="override",
        combine_attrs="override")
    attrs = {k: v for k, v in loaded[0].attrs.items() if k not in ("header_tr",)}
    attrs["source"] = [_name(r) if not isinstance(r, tuple) else [os.fspath(p) for p in r]
                       for r in run_list]
    attrs["tr"] = tr0
    if detrend or zscore:
        attrs.update(detrend=_check_order(detrend, "detrend"), zscore=bool(zscore))
    bold = bold.rename("bold").assign_attrs(attrs)
    bold.attrs = attrs
    return as_timeseries(bold, tr=tr0, argument="runs")
