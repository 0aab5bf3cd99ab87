"""BIDS events: ``events.tsv`` tables and the paradigms (designs) made from them.

:func:`load_events` reads a BIDS events file into a Dataset over ``event``;
:func:`events_to_paradigm` turns events into a ``(time, condition)`` design
sampled at the TR, the input that encoding models and HRF convolution take.

How events become a design
--------------------------
Time is cut into fine bins of ``tr / oversampling`` seconds starting at 0 (the
start of the first volume, as BIDS onsets are). An event adds its modulation
(1 by default) to the bins from ``round(onset / dt)`` up to
``round((onset + duration) / dt)``; each volume's value is the mean of its
``oversampling`` bins, i.e. the fraction of the volume the event covers
(times its modulation). Therefore:

- overlapping events of one condition add up (values above 1 are possible);
- a zero-duration event (an impulse) fills one fine bin: ``modulation /
  oversampling`` in its volume;
- events that start before 0 or run past the end of the run are clipped to the
  run; events wholly outside it are dropped (both are logged);
- missing ``onset``/``duration`` columns, a missing condition or modulation
  column, and non-finite or negative values raise an error naming the column.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import input_error

__all__ = ["events_to_paradigm", "load_events"]

logger = logging.getLogger("xneuro.io.events")

REQUIRED = ("onset", "duration")


def _check_columns(columns: Sequence[str], needed: Sequence[str], where: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise input_error(where, f"lacks the column(s) {missing} (has {list(columns)})",
                          expected=f"BIDS events columns {list(needed)}",
                          fix="add them (onset and duration in seconds), or name the "
                          "condition/modulation columns that exist (condition=, modulation=)")


def _check_numbers(values: np.ndarray, column: str, where: str, *, allow_negative: bool) -> None:
    finite = np.isfinite(values)
    if not finite.all():
        rows = np.flatnonzero(~finite)[:5].tolist()
        raise input_error(f"{where} column {column!r}", f"has n/a or non-finite values at rows "
                          f"{rows}", expected="a number in every row",
                          fix=f"fill or drop those rows (e.g. events.dropna(subset=['{column}']))"
                          + ("; an unknown duration of an impulse is 0" if column == "duration"
                             else ""))
    if not allow_negative and (values < 0).any():
        rows = np.flatnonzero(values < 0)[:5].tolist()
        raise input_error(f"{where} column {column!r}", f"has negative values at rows {rows}",
                          expected="values >= 0", fix="correct those rows")


def load_events(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a BIDS ``events.tsv`` file into a Dataset over ``event``.

    Parameters
    ----------
    path : path
        A tab-separated file with a header row; ``n/a`` is read as missing.

    Returns
    -------
    xarray.Dataset
        One variable per column over dim ``event`` (in file order): ``onset``
        and ``duration`` as float seconds (attrs ``units="s"``), ``trial_type``
        and other text columns as strings, numeric columns as numbers.
        ``attrs["source"]`` holds the path.

    Raises
    ------
    InputError
        If the file is missing or unreadable, or lacks ``onset``/``duration``
        or holds non-numeric, missing or negative values in them (negative
        onsets are allowed: events before the first volume).
    """
    if not isinstance(path, str | os.PathLike) or not Path(path).is_file():
        raise input_error("path", f"{path!r} is not an existing file",
                          expected="a BIDS events.tsv file", fix="check the path")
    try:
        table = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise input_error("path", f"{os.fspath(path)!r} could not be read as a TSV table "
                          f"({type(err).__name__}: {err})", expected="a tab-separated file "
                          "with a header row", fix="check the file is a BIDS events.tsv") from err
    table.columns = [str(c).strip() for c in table.columns]
    _check_columns(list(table.columns), REQUIRED, f"events file {os.fspath(path)!r}")
    ds = _as_events(table, f"events file {os.fspath(path)!r}")
    ds.attrs["source"] = os.fspath(path)
    return ds


def _as_events(table: pd.DataFrame, where: str) -> xr.Dataset:
    data = {}
    for column in table.columns:
        values = table[column]
        if column in REQUIRED:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            bad = np.isnan(numbers) & values.notna().to_numpy()
            if bad.any():
                rows = np.flatnonzero(bad)[:5].tolist()
                raise input_error(f"{where} column {column!r}", f"has text at rows {rows}",
                                  expected="numbers of seconds", fix="correct those rows")
            _check_numbers(numbers, column, where, allow_negative=column == "onset")
            data[column] = ("event", numbers, {"units": "s"})
        elif values.dtype == object:
            data[column] = ("event", values.astype(str).where(values.notna(), "n/a")
                            .to_numpy(dtype=object))
        else:
            data[column] = ("event", values.to_numpy())
    return xr.Dataset(data, coords={"event": np.arange(len(table))})


def _to_frame(events: Any) -> pd.DataFrame:
    if isinstance(events, str | os.PathLike):
        events = load_events(events)
    if isinstance(events, xr.Dataset):
        if "event" not in events.dims and len(events.dims) == 1:
            events = events.rename({next(iter(events.dims)): "event"})
        return pd.DataFrame({str(k): np.asarray(v.values) for k, v in events.data_vars.items()
                             if v.dims == ("event",)})
    if isinstance(events, pd.DataFrame):
        return events.reset_index(drop=True)
    raise input_error("events", f"is a {type(events).__name__}",
                      expected="a path to events.tsv, a DataFrame or a Dataset over 'event'",
                      fix="pass xneuro.io.load_events('..._events.tsv')")


def events_to_paradigm(
    events: Any,
    *,
    tr: float,
    n_vol: int,
    oversampling: int = 10,
    condition: str | None = "trial_type",
    modulation: str | None = None,
    conditions: Sequence[Any] | None = None,
    resolution: Literal["tr", "fine"] = "tr",
) -> xr.DataArray:
    """Turn events into a ``(time, condition)`` design (see the module docstring for the rules).

    Parameters
    ----------
    events : path, DataFrame or Dataset
        BIDS events with ``onset`` and ``duration`` in seconds from the start
        of the first volume.
    tr : float
        Seconds per volume.
    n_vol : int
        Volumes in the run.
    oversampling : int, default 10
        Fine bins per volume: events are placed with a resolution of
        ``tr / oversampling`` seconds.
    condition : str or None, default "trial_type"
        Column whose values name the conditions (one design column each);
        None puts all events in one condition named ``"event"``.
    modulation : str, optional
        Column of per-event amplitudes (parametric modulation); default 1.
    conditions : sequence, optional
        The conditions to keep, in this order; default every value found,
        sorted. Events of other conditions are dropped.
    resolution : {"tr", "fine"}, default "tr"
        ``"tr"``: one row per volume. ``"fine"``: one row per fine bin
        (``n_vol * oversampling`` rows, ``attrs["tr"] = tr / oversampling``),
        for HRF convolution at high resolution before sampling at the TR.

    Returns
    -------
    xarray.DataArray
        Named ``paradigm``, dims ``("time", "condition")``, ``time`` in seconds
        (volume starts), float64; attrs ``tr``, ``oversampling``.

    Raises
    ------
    InputError
        For missing columns (named), non-finite or negative values, or bad
        ``tr``, ``n_vol``, ``oversampling`` or ``resolution``.

    Examples
    --------
    >>> design = xneuro.io.events_to_paradigm("sub-01_task-prf_events.tsv", tr=1.5,
    ...                                       n_vol=240, oversampling=10)  # doctest: +SKIP
    """
    if isinstance(tr, bool) or not isinstance(tr, int | float | np.number) or not (
            np.isfinite(tr) and tr > 0):
        raise input_error("tr", f"is {tr!r}", expected="a positive number of seconds per volume",
                          fix="pass e.g. tr=1.5")
    tr = float(tr)
    for name, value in (("n_vol", n_vol), ("oversampling", oversampling)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise input_error(name, f"is {value!r}", expected="a positive int",
                              fix=f"pass e.g. {name}={'200' if name == 'n_vol' else '10'}")
    if resolution not in ("tr", "fine"):
        raise input_error("resolution", f"is {resolution!r}", expected="'tr' or 'fine'",
                          fix="pass resolution='tr'")
    table = _to_frame(events)
    needed = [*REQUIRED, *(c for c in (condition, modulation) if c is not None)]
    _check_columns(list(table.columns), needed, "events")
    onset = pd.to_numeric(table["onset"], errors="coerce").to_numpy(dtype=float)
    duration = pd.to_numeric(table["duration"], errors="coerce").to_numpy(dtype=float)
    _check_numbers(onset, "onset", "events", allow_negative=True)
    _check_numbers(duration, "duration", "events", allow_negative=False)
    weight = np.ones_like(onset)
    if modulation is not None:
        weight = pd.to_numeric(table[modulation], errors="coerce").to_numpy(dtype=float)
        _check_numbers(weight, modulation, "events", allow_negative=True)
    labels = (np.full(len(table), "event", dtype=object) if condition is None
              else table[condition].to_numpy(dtype=object))
    names = list(conditions) if conditions is not None else sorted(
        pd.unique(labels), key=lambda v: (str(type(v)), v))
    column = pd.Index(names).get_indexer(labels)
    if (column < 0).any():
        logger.info("dropping %d events of conditions not in %s", int((column < 0).sum()), names)

    n_fine = n_vol * oversampling
    dt = tr / oversampling
    start = np.rint(onset / dt).astype(np.int64)
    stop = np.maximum(np.rint((onset + duration) / dt).astype(np.int64), start + 1)
    inside = (column >= 0) & (stop > 0) & (start < n_fine)
    clipped = inside & ((start < 0) | (stop > n_fine))
    if (~inside & (column >= 0)).any() or clipped.any():
        logger.info("events outside the run [0, %g) s: %d dropped, %d clipped", n_vol * tr,
                    int((~inside & (column >= 0)).sum()), int(clipped.sum()))
    start, stop = np.clip(start[inside], 0, n_fine), np.clip(stop[inside], 0, n_fine)
    steps = np.zeros((n_fine + 1, len(names)))
    np.add.at(steps, (start, column[inside]), weight[inside])
    np.add.at(steps, (stop, column[inside]), -weight[inside])
    fine = np.cumsum(steps[:-1], axis=0)
    if resolution == "fine":
        values, step = fine, dt
    else:
        values, step = fine.reshape(n_vol, oversampling, len(names)).mean(axis=1), tr
    values[np.abs(values) < 1e-12] = 0.0  # cumulative-sum round-off
    return xr.DataArray(
        values,
        dims=("time", "condition"),
        coords={"time": ("time", step * np.arange(values.shape[0]), {"units": "s"}),
                "condition": np.asarray(names, dtype=object)},
        name="paradigm",
        attrs={"tr": step, "oversampling": int(oversampling), "volume_tr": tr},
    )
