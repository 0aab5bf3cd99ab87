"""The unit of a resumable job: check a computed block, write its region, record it.

Private to :mod:`xneuro.core.jobs`; these functions run on dask workers.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import hashlib
import json
import os
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import DimensionError, input_error

ComputeUnit = Callable[[int, slice], xr.Dataset | xr.DataArray]


# ----------------------------------------------------------------------------- helpers


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, content: Mapping[str, Any]) -> None:
    """Write JSON to ``path`` so that readers see either nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    with builtins.open(tmp, "w", encoding="utf-8") as file:
        json.dump(content, file, indent=1, sort_keys=True)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _differences(old: Any, new: Any) -> list[str]:
    a, b = _flatten(old), _flatten(new)
    return sorted(key for key in a.keys() | b.keys() if a.get(key, None) != b.get(key, None))


def _values_digest(variable: xr.Variable) -> str:
    values = np.asarray(variable.values)
    if values.dtype.kind in "OUST":
        data = "\x1f".join(map(str, values.ravel().tolist())).encode("utf-8")
    else:
        data = np.ascontiguousarray(values).tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def _describe(template: xr.Dataset) -> dict[str, Any]:
    """The layout of a template, for the fingerprint: dims, dtypes, coordinate values."""
    return {
        "sizes": {str(dim): int(size) for dim, size in template.sizes.items()},
        "data_vars": {
            str(name): {"dims": [str(d) for d in var.dims], "dtype": str(var.dtype)}
            for name, var in template.data_vars.items()
        },
        "coords": {
            str(name): {
                "dims": [str(d) for d in coord.dims],
                "dtype": str(coord.dtype),
                "values": _values_digest(coord.variable),
            }
            for name, coord in template.coords.items()
        },
    }


def _fill_value(dtype: np.dtype) -> Any:
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind in "mM":
        return np.array("NaT", dtype=dtype)
    return None  # zeros


# ----------------------------------------------------------------------------- one unit


def _check_block(
    block: Any, spec: Mapping[str, Any], index: int, region: slice, expected_index: Any
) -> xr.Dataset:
    """Validate what ``compute_unit`` returned and reduce it to what the region write needs."""
    unit_dim = spec["unit_dim"]
    variables: dict[str, tuple[tuple[str, ...], str]] = spec["variables"]
    where = f"compute_unit({index}, slice({region.start}, {region.stop}))"
    if isinstance(block, xr.DataArray):
        if len(variables) != 1:
            raise input_error(
                where,
                "returned a DataArray but the template has data variables "
                f"{sorted(variables)} along {unit_dim!r}",
                expected="an xarray Dataset with those variables",
                fix="return xr.Dataset({...}) with one entry per template variable",
            )
        block = block.to_dataset(name=next(iter(variables)))
    if not isinstance(block, xr.Dataset):
        raise input_error(
            where,
            f"returned a {type(block).__name__}",
            expected=f"an xarray Dataset with data variables {sorted(variables)}",
            fix="return the unit's results as an xr.Dataset shaped like the template's region",
        )
    missing = sorted(set(variables) - set(block.data_vars))
    unknown = sorted(set(block.data_vars) - set(variables) - set(spec["static"]))
    if missing or unknown:
        raise input_error(
            where,
            f"returned data variables {sorted(map(str, block.data_vars))}"
            + (f"; missing {missing}" if missing else "")
            + (f"; not in the template {unknown}" if unknown else ""),
            expected=f"data variables {sorted(variables)}",
            fix="return exactly the template's data variables along "
            f"{unit_dim!r} (or add the new ones to the template and start with fresh=True)",
        )
    length = region.stop - region.start
    out = {}
    for name, (dims, dtype) in variables.items():
        var = block[name]
        if set(var.dims) != set(dims):
            raise input_error(
                f"{where}[{name!r}]",
                f"has dims {var.dims}",
                expected=f"dims {dims} (any order)",
                fix="return each variable with the template's dims",
                cls=DimensionError,
            )
        var = var.transpose(*dims)
        expected_sizes = dict(spec["sizes"], **{unit_dim: length})
        wrong = {d: s for d, s in var.sizes.items() if s != expected_sizes[d]}
        if wrong:
            raise input_error(
                f"{where}[{name!r}]",
                f"has sizes {dict(var.sizes)}",
                expected=f"sizes { {d: expected_sizes[d] for d in dims} } "
                f"({unit_dim!r} = length of the region)",
                fix=f"compute the unit over exactly template.isel({unit_dim}=region)",
                cls=DimensionError,
            )
        target = np.dtype(dtype)
        if var.dtype != target:
            if not np.can_cast(var.dtype, target, casting="same_kind"):
                raise input_error(
                    f"{where}[{name!r}]",
                    f"has dtype {var.dtype}",
                    expected=f"dtype {target} (as in the template)",
                    fix=f"cast it with .astype({str(target)!r}) or change the template",
                )
            var = var.astype(target)
        out[name] = var.variable
    if (
        expected_index is not None
        and unit_dim in block.indexes
        and not block.indexes[unit_dim].equals(pd.Index(expected_index))
    ):
        raise input_error(
            f"{where}: coordinate {unit_dim!r}",
            "differs from the template's coordinate over this region",
            expected=f"template[{unit_dim!r}][region]",
            fix=f"compute the unit over template.isel({unit_dim}=region) and keep its coordinate",
            cls=DimensionError,
        )
    return xr.Dataset(out)


def _run_unit(
    spec: Mapping[str, Any],
    compute_unit: ComputeUnit,
    index: int,
    start: int,
    stop: int,
    expected_index: Any,
) -> dict[str, Any]:
    """Compute one unit, write its region, then record it. Runs on a dask worker."""
    began = time.perf_counter()
    region = slice(start, stop)
    marker = Path(spec["done_dir"]) / str(index)
    if marker.exists():
        # Already written: a scheduler re-running a task whose status was lost
        # with its worker must not compute the unit again.
        return {"unit": index, "error": None, "skipped": True}
    try:
        block = _check_block(compute_unit(index, region), spec, index, region, expected_index)
        # The unit is the task: compute any lazy block in this thread, not on the cluster.
        block = block.compute(scheduler="sync")
        block.to_zarr(
            spec["store"], region={spec["unit_dim"]: region}, mode="r+", consolidated=False
        )
        seconds = time.perf_counter() - began
        _write_json_atomic(
            marker,
            {
                "unit": index,
                "region": [start, stop],
                "seconds": round(seconds, 6),
                "finished": _now(),
                "pid": os.getpid(),
            },
        )
    except Exception as error:
        if not spec["capture"]:
            raise
        return {"unit": index, "error": error, "traceback": traceback.format_exc()}
    return {"unit": index, "error": None, "seconds": seconds}


# ----------------------------------------------------------------------------- the job
