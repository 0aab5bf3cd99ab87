"""Saving and reopening xarray objects as chunked Zarr v3 stores.

:func:`save` writes a DataArray, Dataset or DataTree to Zarr v3: data variables
chunked along the unit-of-work dimension only (:func:`choose_chunks`),
coordinates in one chunk each, Zstandard-compressed, with consolidated metadata
and provenance attributes. :func:`open` reopens any of the three lazily.

Only local (or mounted shared) file-system paths are supported.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import xarray as xr
import zarr
from zarr.codecs import ZstdCodec

from xneuro.core.chunks import UNIT_DIMS, check_chunks, choose_chunks
from xneuro.core.errors import input_error
from xneuro.core.provenance import has_provenance, stamp

__all__ = ["UNIT_DIMS", "choose_chunks", "open", "save"]

log = logging.getLogger("xneuro.core.store")

T = TypeVar("T", xr.DataArray, xr.Dataset, xr.DataTree)

#: Root attribute marking a store that holds one DataArray.
OBJECT_ATTR = "xneuro_object"
#: Root attribute naming the stored variable of a DataArray store.
VARIABLE_ATTR = "xneuro_variable"
#: Root attribute holding the DataArray's name.
NAME_ATTR = "xneuro_name"
#: Stands for ``name=None`` in :data:`NAME_ATTR`.
NONE_NAME = "__xneuro_none__"
_DEFAULT_VARIABLE = "__xneuro_dataarray__"

# Encoding keys kept from an object's own encoding: how values are represented
# (CF conventions), never how they were chunked or compressed in a former store.
_KEPT_ENCODING = {
    "dtype",
    "_FillValue",
    "missing_value",
    "scale_factor",
    "add_offset",
    "units",
    "calendar",
}


def _compressors() -> tuple[ZstdCodec, ...]:
    return (ZstdCodec(level=3),)


# ----------------------------------------------------------------------------- paths


def _check_path(path: Any) -> Path:
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise input_error(
            "path",
            f"is a {type(path).__name__}",
            expected="a str or pathlib.Path naming a directory on a file system",
            fix="pass e.g. path='results.zarr'",
        )
    text = os.fspath(path)
    if not text:
        raise input_error("path", "is empty", fix="pass e.g. path='results.zarr'")
    if "://" in text:
        raise input_error(
            "path",
            f"{text!r} is a URL",
            expected="a local or mounted file-system path",
            fix="write locally and copy, or call xarray's to_zarr with storage_options",
        )
    return Path(text).expanduser()


def is_zarr_store(path: str | os.PathLike[str]) -> bool:
    """Return whether ``path`` is a directory holding a Zarr (v2 or v3) group or array.

    Parameters
    ----------
    path : str or PathLike
        Directory to inspect.

    Returns
    -------
    bool
        True when ``zarr.json`` (v3) or ``.zgroup``/``.zarray`` (v2) is present.
    """
    p = Path(path)
    return p.is_dir() and any((p / name).is_file() for name in ("zarr.json", ".zgroup", ".zarray"))


def remove_store(path: str | os.PathLike[str]) -> None:
    """Delete the Zarr store at ``path``, refusing to delete anything else.

    Parameters
    ----------
    path : str or PathLike
        The store's directory; nothing happens if it does not exist.

    Raises
    ------
    InputError
        If ``path`` exists but is not a Zarr store (so it is not deleted).
    """
    p = Path(path)
    if not p.exists():
        return
    if not is_zarr_store(p):
        raise input_error(
            "path",
            f"{os.fspath(p)!r} exists and is not a Zarr store, so xneuro will not delete it",
            fix="choose another path, or remove it yourself if it is not needed",
        )
    shutil.rmtree(p)


# ----------------------------------------------------------------------------- encoding


def _clean_encoding(encoding: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in encoding.items() if key in _KEPT_ENCODING}


def _variable_length_strings(ds: xr.Dataset) -> xr.Dataset:
    """Store fixed-width unicode (``<U``) as variable-length strings.

    Zarr v3 has a specified variable-length UTF-8 type but no fixed-width one
    (zarr warns that such arrays may become unreadable); values are unchanged
    and read back as strings.
    """
    fixed = [name for name, var in ds.variables.items() if var.dtype.kind == "U"]
    if not fixed:
        return ds
    converted = {name: ds[name].variable.astype(object) for name in fixed}
    coords = {name: var for name, var in converted.items() if name in ds.coords}
    data = {name: var for name, var in converted.items() if name not in ds.coords}
    return ds.assign_coords(coords).assign(data)


def prepare_dataset(
    ds: xr.Dataset, chunks: Mapping[Hashable, int]
) -> tuple[xr.Dataset, dict[Hashable, dict[str, Any]]]:
    """Chunk a dataset for writing and build its Zarr encoding.

    Data variables are dask-chunked by ``chunks`` (every dimension not named is
    whole); coordinates are kept in one chunk (object-dtype ones loaded, so
    xarray can infer their string type without a warning). Stale ``chunks`` and
    ``preferred_chunks`` encodings from a former store are dropped (xarray#4380).

    Parameters
    ----------
    ds : Dataset
        The dataset to write.
    chunks : Mapping
        Dimension name to chunk size for the data variables.

    Returns
    -------
    tuple of (Dataset, dict)
        The chunked dataset (a shallow copy) and the ``encoding`` argument for
        :meth:`xarray.Dataset.to_zarr`.
    """
    ds = _variable_length_strings(ds)
    encoding: dict[Hashable, dict[str, Any]] = {}
    data_vars = {}
    for name, var in ds.data_vars.items():
        var_chunks = {dim: chunks.get(dim, max(int(size), 1)) for dim, size in var.sizes.items()}
        data_vars[name] = var.variable.chunk(var_chunks) if var.ndim else var.variable
        encoding[name] = {
            **_clean_encoding(var.encoding),
            "chunks": tuple(var_chunks[dim] for dim in var.dims),
            "compressors": _compressors(),
        }
    coords = {}
    for name, coord in ds.coords.items():
        variable = coord.variable
        if name not in ds.indexes and variable.chunks is not None:
            if variable.dtype == object:
                variable = variable.compute()  # a copy: the caller's object stays lazy
            else:
                variable = variable.chunk(dict.fromkeys(variable.dims, -1))
            coords[name] = variable
        encoding[name] = {
            **_clean_encoding(coord.encoding),
            "chunks": tuple(max(int(size), 1) for size in variable.shape),
            "compressors": _compressors(),
        }
    # ``to_zarr(encoding=...)`` replaces each variable's own encoding, so stale
    # chunk encodings of a former store never reach the writer.
    return ds.assign(data_vars).assign_coords(coords), encoding


def _write_quietly(write: Any, *args: Any, **kwargs: Any) -> Any:
    # Consolidated metadata is what xarray writes by default; zarr warns that it
    # is not yet part of the v3 spec, which the user can do nothing about.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Consolidated metadata is currently not part", category=UserWarning
        )
        return write(*args, **kwargs)


# ----------------------------------------------------------------------------- save


def _dataarray_to_dataset(da: xr.DataArray) -> xr.Dataset:
    name = da.name
    if name is not None and not isinstance(name, str):
        raise input_error(
            "obj.name",
            f"is {name!r} ({type(name).__name__})",
            expected="a str or None",
            fix="rename it, e.g. obj.rename('bold')",
        )
    variable = name if isinstance(name, str) and name not in da.coords else _DEFAULT_VARIABLE
    ds = da.to_dataset(name=variable, promote_attrs=False)
    ds.attrs = {
        OBJECT_ATTR: "DataArray",
        VARIABLE_ATTR: variable,
        NAME_ATTR: NONE_NAME if name is None else name,
    }
    return ds


def save(
    obj: T,
    path: str | os.PathLike[str],
    *,
    unit_dim: str | None = None,
    chunks: Mapping[Hashable, int] | None = None,
    mode: Literal["w-", "w"] = "w-",
    function: str = "xneuro.save",
    settings: Mapping[str, Any] | None = None,
) -> T:
    """Write a DataArray, Dataset or DataTree to a chunked Zarr v3 store.

    Data variables are chunked along the unit-of-work dimension only
    (:func:`choose_chunks`, per node for a DataTree), coordinates are stored in
    one chunk each, every array is Zstandard-compressed (level 3), and
    metadata is consolidated. Provenance attributes are added
    (:func:`xneuro.core.provenance.stamp`) unless the object already has them.

    Parameters
    ----------
    obj : DataArray, Dataset or DataTree
        The object to write. A DataArray is written as a one-variable Dataset
        with root attributes that let :func:`open` rebuild it, name and attrs
        included.
    path : str or PathLike
        Directory of the new store.
    unit_dim : str, optional
        Dimension to chunk; see :func:`choose_chunks`. In a DataTree, nodes
        without it choose automatically.
    chunks : Mapping, optional
        Explicit chunk sizes by dimension name (dimensions not named, and -1,
        mean whole); overrides ``unit_dim``.
    mode : {"w-", "w"}, default "w-"
        ``"w-"`` refuses to overwrite an existing path; ``"w"`` replaces an
        existing Zarr store (but never a directory that is not one). Do not
        replace the store that ``obj`` was lazily opened from: load it first.
    function : str, default "xneuro.save"
        Recorded as ``xneuro_function`` when provenance is added.
    settings : Mapping, optional
        Recorded as ``xneuro_settings`` when provenance is added.

    Returns
    -------
    DataArray, Dataset or DataTree
        ``obj`` as written (provenance added; data not loaded), such that
        ``xarray.testing.assert_identical(xneuro.open(path), result)`` holds.

    Raises
    ------
    InputError
        For a wrong ``obj``, ``path``, ``mode`` or ``chunks``, or if ``path``
        exists and ``mode="w-"``.
    DimensionError
        If ``unit_dim`` is not a dimension of ``obj``.

    Examples
    --------
    >>> saved = xneuro.save(fit, "prf.zarr")  # doctest: +SKIP
    >>> xneuro.open("prf.zarr")  # doctest: +SKIP
    """
    if not isinstance(obj, xr.DataArray | xr.Dataset | xr.DataTree):
        raise input_error(
            "obj",
            f"is a {type(obj).__name__}",
            expected="an xarray DataArray, Dataset or DataTree",
            fix="wrap the data in an xarray object with named dims",
        )
    store = _check_path(path)
    if mode not in ("w-", "w"):
        raise input_error(
            "mode",
            f"is {mode!r}",
            expected="'w-' (refuse to overwrite) or 'w' (replace an existing store)",
            fix="pass mode='w-' or mode='w'",
        )
    if store.exists():
        if mode == "w-":
            raise input_error(
                "path",
                f"{os.fspath(store)!r} already exists",
                expected="a path where nothing exists yet (mode='w-')",
                fix="pass mode='w' to replace it, or choose another path",
            )
        if not is_zarr_store(store) and not (store.is_dir() and not any(store.iterdir())):
            raise input_error(
                "path",
                f"{os.fspath(store)!r} exists and is not a Zarr store, so mode='w' "
                "will not replace it",
                fix="choose another path, or remove it yourself if it is not needed",
            )

    if not has_provenance(obj):
        obj = stamp(obj, function, settings)

    def chunks_for(ds: xr.Dataset, dim: str | None) -> dict[Hashable, int]:
        if chunks is not None:
            return check_chunks(chunks, ds.sizes)
        return choose_chunks(ds, unit_dim=dim)

    if isinstance(obj, xr.DataTree):
        datasets: dict[str, xr.Dataset] = {}
        encoding: dict[str, dict[Hashable, dict[str, Any]]] = {}
        for node in obj.subtree:
            ds = node.to_dataset(inherit=False)
            dim = unit_dim if unit_dim is not None and unit_dim in ds.dims else None
            datasets[node.path], encoding[node.path] = prepare_dataset(ds, chunks_for(ds, dim))
        target: xr.Dataset | xr.DataTree = xr.DataTree.from_dict(datasets)
    else:
        ds = _dataarray_to_dataset(obj) if isinstance(obj, xr.DataArray) else obj
        target, encoding = prepare_dataset(ds, chunks_for(ds, unit_dim))

    if mode == "w" and store.exists():
        shutil.rmtree(store)
    log.debug("writing %s to %s", type(obj).__name__, store)
    _write_quietly(
        target.to_zarr,
        os.fspath(store),
        mode="w-",
        encoding=encoding,
        consolidated=True,
        zarr_format=3,
    )
    return obj


# ----------------------------------------------------------------------------- open


def _has_subgroups(store: Path) -> bool:
    group = zarr.open_group(os.fspath(store), mode="r")
    return any(True for _ in group.group_keys())


def open(
    path: str | os.PathLike[str], *, chunks: Literal["auto"] | Mapping[Hashable, int] | None = None
) -> xr.DataArray | xr.Dataset | xr.DataTree:
    """Reopen a store written by :func:`save` (or any Zarr store) lazily.

    Parameters
    ----------
    path : str or PathLike
        The store's directory.
    chunks : "auto" or Mapping, optional
        Dask chunks; by default (``None`` or ``{}``) the stored chunks.

    Returns
    -------
    DataArray, Dataset or DataTree
        Data variables dask-backed, coordinates in memory (they are stored in
        one chunk each). A store with nested groups opens as a DataTree, a store
        written from a DataArray as that DataArray (name and attrs restored),
        any other as a Dataset.

    Raises
    ------
    InputError
        If ``path`` does not exist or is not a Zarr store.

    Warns
    -----
    UserWarning
        If the store belongs to a resumable job that has not finished.
    """
    store = _check_path(path)
    if not store.exists():
        raise input_error(
            "path",
            f"{os.fspath(store)!r} does not exist",
            expected="the directory of a Zarr store",
            fix="check the path, or write the store first with xneuro.save",
        )
    if not is_zarr_store(store):
        raise input_error(
            "path",
            f"{os.fspath(store)!r} is not a Zarr store (no zarr.json, .zgroup or .zarray)",
            expected="the directory of a Zarr store",
            fix="check the path; xneuro.save writes Zarr stores",
        )
    if _has_subgroups(store):
        tree = xr.open_datatree(os.fspath(store), engine="zarr", chunks={})
        result: xr.DataArray | xr.Dataset | xr.DataTree = xr.DataTree.from_dict(
            {
                node.path: _rechunk(_load_coords(node.to_dataset(inherit=False)), chunks)
                for node in tree.subtree
            }
        )
    else:
        ds = xr.open_dataset(os.fspath(store), engine="zarr", chunks={})
        result = _dataset_to_object(_rechunk(_load_coords(ds), chunks))
    status = result.attrs.get("xneuro_job_status")
    if status is not None and status != "complete":
        warnings.warn(
            f"{os.fspath(store)!r} is the store of a resumable job whose units are not all "
            "done; the missing units hold fill values. Fix: run the same job call again "
            "to finish it.",
            UserWarning,
            stacklevel=2,
        )
    return result


def _rechunk(ds: xr.Dataset, chunks: str | Mapping[Hashable, Any] | None) -> xr.Dataset:
    """Rechunk the numeric data variables; ``None`` or ``{}`` keep the stored chunks.

    String variables keep their stored chunks: dask cannot size them for ``"auto"``.
    """
    if not chunks:
        return ds
    numeric = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind in "biufc" and var.ndim:
            wanted = chunks if isinstance(chunks, str) else {
                dim: size for dim, size in chunks.items() if dim in var.dims
            }
            numeric[name] = var.variable.chunk(wanted)
    return ds.assign(numeric)


def _load_coords(ds: xr.Dataset) -> xr.Dataset:
    # Coordinates are stored in one chunk; kept lazy they would be chunked unlike
    # the data along the unit dim, and Dataset.chunks would raise.
    lazy = {
        name: coord.variable.compute()
        for name, coord in ds.coords.items()
        if coord.variable.chunks is not None
    }
    return ds.assign_coords(lazy) if lazy else ds


def _dataset_to_object(ds: xr.Dataset) -> xr.DataArray | xr.Dataset:
    if ds.attrs.get(OBJECT_ATTR) != "DataArray":
        return ds
    variable = ds.attrs.get(VARIABLE_ATTR, _DEFAULT_VARIABLE)
    if variable not in ds.data_vars:
        return ds
    name = ds.attrs.get(NAME_ATTR, NONE_NAME)
    da = ds[variable].copy(deep=False)
    da.name = None if name == NONE_NAME else name
    return da
