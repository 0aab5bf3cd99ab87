"""Atlases and ROIs: label images to ROI masks, ROI timecourses, and dnnbrain's ``.roi.h5``.

An *atlas* gives every voxel an integer label (0 is background). It may be a
label image (NIfTI/MGH volume on the BOLD grid, CIFTI ``.dlabel.nii`` or
GIFTI ``.label.gii`` over the same grayordinates), a labeled DataArray over
``voxel``, a 3-D label array on the BOLD grid, or one label per BOLD voxel.
ROI names come from ``labels=`` (a dict or a lookup-table file), else from the
atlas's own label table (CIFTI, GIFTI), else the label numbers.

The ``.roi.h5`` layout is dnnbrain's: a root attribute ``roi`` with the ROI
names and one uncompressed dataset ``data`` of shape ``(n_vol, n_roi)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.backend import import_optional
from xneuro.core.errors import DimensionError, input_error
from xneuro.core.schema import check_dims
from xneuro.io._objects import space_attrs
from xneuro.io.cifti import as_str
from xneuro.io.masks import AFFINE_TOLERANCE, show_affine
from xneuro.io.read import load_image

__all__ = ["atlas_to_masks", "extract_rois", "load_roi_h5", "read_lookup_table", "save_roi_h5"]

logger = logging.getLogger("xneuro.io.rois")

METHODS = ("mean", "median", "max", "min", "std", "voxel")
_KEYS = ("structure", "vertex", "i", "j", "k")


# ----------------------------------------------------------------------------- labels


def read_lookup_table(path: str | os.PathLike[str]) -> dict[int, str]:
    """Read label names from a lookup table.

    Accepted: a BIDS ``dseg.tsv`` (columns ``index`` and ``name``), or a text
    file of ``<index> <name> [r g b a]`` lines (FreeSurfer ``LUT.txt``, FSL,
    AFNI); ``#`` starts a comment.

    Returns
    -------
    dict of int to str
    """
    file = Path(path)
    if not file.is_file():
        raise input_error("labels", f"{os.fspath(file)!r} is not a file",
                          expected="a lookup table file or a dict {label: name}",
                          fix="check the path")
    if file.suffix == ".tsv":
        table = pd.read_csv(file, sep="\t")
        if not {"index", "name"} <= set(table.columns):
            raise input_error("labels", f"{os.fspath(file)!r} has columns {list(table.columns)}",
                              expected="columns 'index' and 'name' (BIDS dseg.tsv)",
                              fix="rename the columns")
        return {int(i): str(n) for i, n in zip(table["index"], table["name"], strict=True)}
    names: dict[int, str] = {}
    for line in file.read_text().splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and parts[0].lstrip("-").isdigit():
            names[int(parts[0])] = parts[1]
    if not names:
        raise input_error("labels", f"{os.fspath(file)!r} holds no '<index> <name>' lines",
                          expected="a lookup table", fix="pass a dict {label: name}")
    return names


def _label_names(labels: Any, atlas: xr.DataArray | None) -> dict[int, str]:
    if labels is None:
        if atlas is not None and "cifti_labels" in atlas.attrs:
            table = next(iter(atlas.attrs["cifti_labels"].values()), {})
            return {int(k): str(v[0]) for k, v in table.items()}
        if atlas is not None and "labels" in atlas.attrs:
            return {int(k): str(v) for k, v in atlas.attrs["labels"].items()}
        return {}
    if isinstance(labels, str | os.PathLike):
        return read_lookup_table(labels)
    if isinstance(labels, Mapping):
        return {int(k): str(v) for k, v in labels.items()}
    raise input_error("labels", f"is a {type(labels).__name__}",
                      expected="a dict {label: name} or a lookup-table file",
                      fix="pass labels={1: 'V1', 2: 'V2'}")


def _key(values: Any) -> np.ndarray:
    values = np.asarray(values)
    return values if values.dtype.kind in "iub" else as_str(values)


def _labels_on(bold: xr.DataArray | xr.Dataset, atlas: xr.DataArray) -> np.ndarray:
    """Integer label of each voxel of ``bold``, aligned through the spatial coords."""
    if "map" in atlas.dims:
        if atlas.sizes["map"] != 1:
            raise input_error("atlas", f"has {atlas.sizes['map']} maps", cls=DimensionError,
                              expected="one label map", fix="pick one: atlas.isel(map=0)")
        atlas = atlas.isel(map=0)
    check_dims(atlas, ("voxel",), "atlas")
    values = np.asarray(atlas.values)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values) & (values == np.round(values))):
        raise input_error("atlas", "holds non-integer values", expected="integer labels",
                          fix="threshold a probabilistic atlas into labels first")
    values = values.astype(np.int64)
    has = [k for k in _KEYS if k in atlas.coords and k in bold.coords]
    volume = "structure" not in atlas.coords and all(k in has for k in "ijk")
    if volume:
        for key in ("volume_shape", "affine"):
            a, b = space_attrs(atlas).get(key), space_attrs(bold).get(key)
            if a is not None and b is not None and (
                    np.shape(a) != np.shape(b) or not np.allclose(a, b, atol=AFFINE_TOLERANCE)):
                shown = (lambda v: show_affine(np.asarray(v))) if key == "affine" else tuple
                raise input_error("atlas", f"has {key} {shown(a)} but bold has {shown(b)}",
                                  cls=DimensionError, expected="an atlas on the BOLD grid",
                                  fix="resample the atlas to the BOLD grid (nearest neighbour)")
    if has:
        ref = pd.MultiIndex.from_arrays([_key(atlas[k].values) for k in has])
        mine = pd.MultiIndex.from_arrays([_key(bold[k].values) for k in has])
        position = ref.get_indexer(mine)
    elif "voxel" in atlas.indexes and "voxel" in bold.indexes:
        position = atlas.indexes["voxel"].get_indexer(bold.indexes["voxel"])
    else:
        raise input_error("atlas", "shares no coords with bold", expected="voxel coords "
                          "i, j, k (volumes) or structure, vertex (CIFTI) on both",
                          fix="load the atlas with xneuro.io.load_image")
    if (position < 0).all():
        raise input_error("atlas", "covers none of bold's voxels", cls=DimensionError,
                          expected="an atlas in the BOLD space",
                          fix="use an atlas on the same grid or grayordinates")
    return np.where(position >= 0, values[np.maximum(position, 0)], 0)


def _voxel_labels(bold: xr.DataArray | xr.Dataset, atlas: Any) -> tuple[np.ndarray,
                                                                         xr.DataArray | None]:
    if isinstance(atlas, str | os.PathLike | tuple):
        atlas = load_image(atlas)
    if isinstance(atlas, xr.DataArray):
        return _labels_on(bold, atlas), atlas
    values = np.asarray(atlas)
    n = bold.sizes["voxel"]
    if values.ndim == 1 and values.size == n:
        return values.astype(np.int64), None
    if values.ndim == 3 and all(k in bold.coords for k in "ijk"):
        shape = space_attrs(bold).get("volume_shape")
        if shape is not None and tuple(shape) != values.shape:
            raise input_error("atlas", f"has shape {values.shape} but bold's volume has "
                              f"{tuple(shape)}", cls=DimensionError,
                              expected="a label volume on the BOLD grid",
                              fix="resample the atlas to the BOLD grid")
        i, j, k = (np.asarray(bold[c].values) for c in "ijk")
        return values[i, j, k].astype(np.int64), None
    raise input_error("atlas", f"has shape {values.shape}", cls=DimensionError,
                      expected=f"a label image path, a labeled DataArray, a 3-D label volume, "
                      f"or {n} labels (one per voxel)", fix="pass the atlas file")


def _select(found: np.ndarray, names: dict[int, str], rois: Sequence[Any] | None
            ) -> list[tuple[int, str]]:
    present = [int(v) for v in np.unique(found) if v != 0]
    pairs = [(v, names.get(v, str(v))) for v in present]
    if rois is None:
        return pairs
    wanted = [rois] if isinstance(rois, str | int) else list(rois)
    chosen = []
    for roi in wanted:
        match = [p for p in pairs if roi == p[1] or (not isinstance(roi, str) and roi == p[0])]
        if not match:
            raise input_error("rois", f"names {roi!r}, which is not in the atlas on these "
                              "voxels", expected=f"one of {[p[1] for p in pairs][:20]}",
                              fix="check the names, or pass labels= to name the labels")
        chosen.extend(match)
    return chosen


def atlas_to_masks(
    atlas: Any,
    like: xr.DataArray | xr.Dataset | None = None,
    *,
    labels: Any = None,
    rois: Sequence[Any] | None = None,
) -> xr.DataArray:
    """Turn an atlas into one boolean mask per ROI.

    Parameters
    ----------
    atlas : path, DataArray or array
        See the module docstring.
    like : DataArray or Dataset, optional
        The object whose voxels the masks are over (e.g. the BOLD). Default:
        the atlas's own labeled voxels.
    labels : dict or path, optional
        Names of the labels (dict ``{label: name}`` or a lookup-table file).
    rois : sequence, optional
        Names or label numbers of the ROIs to keep, in this order.

    Returns
    -------
    xarray.DataArray
        Boolean ``(roi, voxel)``; coords ``roi`` (names), ``label`` (int) and
        ``n_voxel`` on ``roi``, and the voxel coords of ``like`` (or of the atlas).
    """
    if like is None:
        if isinstance(atlas, str | os.PathLike | tuple):
            atlas = load_image(atlas)
        if not isinstance(atlas, xr.DataArray):
            raise input_error("like", "is None and the atlas is a plain array",
                              expected="like= the object the masks are for",
                              fix="pass like=bold")
        like = atlas.isel(map=0) if "map" in atlas.dims else atlas
    found, labeled = _voxel_labels(like, atlas)
    names = _label_names(labels, labeled)
    chosen = _select(found, names, rois)
    masks = np.stack([found == value for value, _ in chosen]) if chosen else np.zeros(
        (0, found.size), bool)
    voxel_coords = {k: v for k, v in like.coords.items() if v.dims == ("voxel",)}
    return xr.DataArray(
        masks, dims=("roi", "voxel"), name="roi_mask",
        coords={**voxel_coords, "roi": [n for _, n in chosen],
                "label": ("roi", [v for v, _ in chosen]),
                "n_voxel": ("roi", masks.sum(axis=1))},
    )


def extract_rois(
    bold: xr.DataArray,
    atlas: Any,
    *,
    method: Literal["mean", "median", "max", "min", "std", "voxel"] = "mean",
    labels: Any = None,
    rois: Sequence[Any] | None = None,
) -> xr.DataArray:
    """Summarize a ``(time, voxel)`` array per ROI (dnnbrain's ``extract_brain_activation``).

    Parameters
    ----------
    bold : DataArray
        ``(time, voxel)`` (or any dims with ``voxel``), numpy or dask.
    atlas : path, DataArray or array
        See the module docstring.
    method : {"mean", "median", "max", "min", "std", "voxel"}, default "mean"
        Statistic over each ROI's voxels (``std`` with ``ddof=0``), or
        ``"voxel"`` to keep every voxel inside an ROI.
    labels : dict or path, optional
        Label names (see :func:`atlas_to_masks`).
    rois : sequence, optional
        ROIs to keep, in this order (names or label numbers).

    Returns
    -------
    xarray.DataArray
        ``(time, roi)`` with coords ``roi`` (names), ``label`` and ``n_voxel``;
        for ``"voxel"``, ``(time, voxel)`` restricted to ROI voxels with coords
        ``roi`` and ``label`` on ``voxel``. Lazy for dask input; attrs kept.

    Raises
    ------
    InputError
        For an unknown method, an atlas on another grid, or ROIs not in the atlas.

    Examples
    --------
    >>> rois = xneuro.io.extract_rois(bold, "atlas.nii.gz", method="mean")  # doctest: +SKIP
    """
    if method not in METHODS:
        raise input_error("method", f"is {method!r}", expected=f"one of {METHODS}",
                          fix="pass method='mean'")
    check_dims(bold, ("voxel",), "bold", allow_extra=True)
    found, labeled = _voxel_labels(bold, atlas)
    names = _label_names(labels, labeled)
    chosen = _select(found, names, rois)
    if not chosen:
        raise input_error("atlas", "labels none of bold's voxels (all 0)",
                          expected="non-zero labels on some voxels",
                          fix="check that atlas and bold are in the same space")
    if method == "voxel":
        keep = np.concatenate([np.flatnonzero(found == value) for value, _ in chosen])
        name_of = dict(chosen)
        return bold.isel(voxel=keep).assign_coords(
            roi=("voxel", np.asarray([name_of[v] for v in found[keep]], dtype=object)),
            label=("voxel", found[keep]))
    parts = []
    for value, _ in chosen:
        part = bold.isel(voxel=np.flatnonzero(found == value))
        if method == "median" and part.chunks is not None:
            part = part.chunk({"voxel": -1})
        reduce = getattr(part, method)
        part = reduce("voxel", ddof=0) if method == "std" else reduce("voxel")
        parts.append(part.drop_vars([c for c in part.coords if "voxel" in part[c].dims],
                                    errors="ignore"))
    result = xr.concat(parts, dim="roi", coords="minimal", compat="override",
                       combine_attrs="override")
    result = result.assign_coords(roi=[n for _, n in chosen],
                                  label=("roi", [v for v, _ in chosen]),
                                  n_voxel=("roi", [int((found == v).sum()) for v, _ in chosen]))
    order = [d for d in bold.dims if d != "voxel"] + ["roi"]
    result = result.transpose(*order)
    result.attrs = {**bold.attrs, "roi_method": method}
    return result.rename(bold.name)


# ----------------------------------------------------------------------------- .roi.h5


def _h5py() -> Any:
    return import_optional("h5py", extra="dnn", purpose="dnnbrain .roi.h5 files")


def save_roi_h5(obj: xr.DataArray, path: str | os.PathLike[str]) -> Path:
    """Write ``(time, roi)`` timecourses in dnnbrain's ``.roi.h5`` layout.

    Parameters
    ----------
    obj : DataArray
        ``(time, roi)`` (as :func:`extract_rois` returns); the ``roi`` coord
        gives the names (written as strings).
    path : path
        Must end in ``.roi.h5`` (dnnbrain refuses other names).

    Returns
    -------
    Path
    """
    check_dims(obj, ("time", "roi"), "obj")
    file = Path(path)
    if not file.name.endswith(".roi.h5"):
        raise input_error("path", f"{os.fspath(file)!r} does not end in .roi.h5",
                          expected="a name ending in .roi.h5 (dnnbrain checks it)",
                          fix=f"name it {file.name.split('.')[0]}.roi.h5")
    h5py = _h5py()
    names = ([str(v) for v in obj["roi"].values] if "roi" in obj.coords
             else [str(v) for v in range(obj.sizes["roi"])])
    data = np.asarray(obj.transpose("time", "roi").values)
    with h5py.File(file, "w") as f:
        f.attrs["roi"] = np.asarray(names, dtype=h5py.string_dtype())
        f.create_dataset("data", data=data)
    return file


def load_roi_h5(path: str | os.PathLike[str], *, rois: Sequence[str] | None = None,
                tr: float | None = None) -> xr.DataArray:
    """Read a dnnbrain ``.roi.h5`` file as a ``(time, roi)`` DataArray.

    Parameters
    ----------
    path : path
        The file.
    rois : sequence of str, optional
        Names to read, in this order; all by default.
    tr : float, optional
        Seconds per volume, for the time coord (frame numbers without it).

    Returns
    -------
    xarray.DataArray
        Named ``roi``, dims ``("time", "roi")``, ``roi`` coord the names.
    """
    file = Path(path)
    if not file.is_file():
        raise input_error("path", f"{os.fspath(file)!r} is not a file",
                          expected="a dnnbrain .roi.h5 file", fix="check the path")
    h5py = _h5py()
    try:
        with h5py.File(file, "r") as f:
            if "roi" not in f.attrs or "data" not in f:
                raise input_error("path", f"{os.fspath(file)!r} lacks the 'roi' attribute or "
                                  "the 'data' dataset", expected="dnnbrain's .roi.h5 layout",
                                  fix="write it with xneuro.io.save_roi_h5 or dnnbrain")
            names = [v.decode() if isinstance(v, bytes) else str(v)
                     for v in np.atleast_1d(f.attrs["roi"])]
            data = f["data"][()]
    except OSError as err:
        raise input_error("path", f"{os.fspath(file)!r} could not be read as HDF5 ({err})",
                          expected="a dnnbrain .roi.h5 file", fix="check the file") from err
    data = data.reshape(-1, 1) if data.ndim == 1 else data
    if data.shape[1] != len(names):
        raise input_error("path", f"{os.fspath(file)!r} has {len(names)} names for "
                          f"{data.shape[1]} columns", expected="one name per column",
                          fix="rewrite the file")
    da = xr.DataArray(data, dims=("time", "roi"), coords={"roi": names}, name="roi")
    if rois is not None:
        missing = [r for r in rois if r not in names]
        if missing:
            raise input_error("rois", f"names {missing}, not in the file", expected=(
                f"names from {names[:20]}"), fix="check the names")
        da = da.sel(roi=list(rois))
    time = np.arange(da.sizes["time"]) * (tr if tr is not None else 1)
    da = da.assign_coords(time=("time", time, {"units": "s"} if tr is not None else {}))
    return da.assign_attrs(tr=tr) if tr is not None else da
