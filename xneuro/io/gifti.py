"""GIFTI functional and label files, one per hemisphere.

GIFTI is XML with base64-encoded (often zlib-compressed) arrays, so a file is
read whole; its values are then chunked over vertices like every other
source. A functional file holds one data array per time point (or one
``(vertex, time)`` array). Each vertex becomes one element of the ``voxel``
dim with coords ``vertex``, ``structure`` (CIFTI name) and ``hemi``; two
files (left, right) are joined along ``voxel`` in that order.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._files import check_path, load_image_header, nibabel

__all__ = ["GiftiData", "read_gifti", "read_gifti_pair"]

logger = logging.getLogger("xneuro.io.gifti")

_HEMI_PATTERNS = (
    ("left", re.compile(r"(hemi-L|(^|[._-])lh[._-]|[._-]L[._-]|left)", re.IGNORECASE)),
    ("right", re.compile(r"(hemi-R|(^|[._-])rh[._-]|[._-]R[._-]|right)", re.IGNORECASE)),
)
_STRUCTURE = {"left": "CIFTI_STRUCTURE_CORTEX_LEFT", "right": "CIFTI_STRUCTURE_CORTEX_RIGHT"}


@dataclass
class GiftiData:
    """Values and coords read from one or two GIFTI files."""

    values: np.ndarray  # (time, vertex)
    coords: dict[str, Any]
    tr: float | None
    attrs: dict[str, Any]
    labels: dict[int, str]


def _meta(obj: Any) -> dict[str, str]:
    meta = getattr(obj, "meta", None)
    return dict(meta) if meta is not None else {}


def _hemisphere(img: Any, path: Path) -> str:
    for source in (img, *img.darrays[:1]):
        primary = _meta(source).get("AnatomicalStructurePrimary", "")
        if "left" in primary.lower():
            return "left"
        if "right" in primary.lower():
            return "right"
    for hemi, pattern in _HEMI_PATTERNS:
        if pattern.search(path.name):
            return hemi
    return ""


def _time_step(img: Any) -> float | None:
    for array in img.darrays[:1]:
        value = _meta(array).get("TimeStep")
        try:
            step = float(value) if value is not None else 0.0
        except ValueError:
            step = 0.0
        if step > 0:
            # The GIFTI standard gives no unit; values above 100 can only be milliseconds.
            return step / 1000.0 if step > 100 else step
    return None


def read_gifti(path: Any, argument: str = "path") -> GiftiData:
    """Read one GIFTI functional (or shape/label) file.

    Parameters
    ----------
    path : path
        A ``.func.gii``, ``.shape.gii`` or ``.label.gii`` file.
    argument : str
        Name of the argument in messages.

    Returns
    -------
    GiftiData
        ``values`` of shape ``(time, vertex)`` (one row for a single map).

    Raises
    ------
    InputError
        If the file holds a surface mesh (coordinates and triangles) rather
        than values per vertex, or cannot be read.
    """
    file = check_path(path, argument)
    img = load_image_header(file, argument)
    nib = nibabel()
    if not isinstance(img, nib.gifti.GiftiImage):
        raise input_error(argument, f"{os.fspath(file)!r} is a {type(img).__name__}",
                          expected="a GIFTI file (.func.gii, .shape.gii, .label.gii)",
                          fix="pass the GIFTI file of each hemisphere")
    intents = {nib.nifti1.intent_codes.label[a.intent] for a in img.darrays}
    if not img.darrays or intents & {"pointset", "triangle"}:
        raise input_error(argument, f"{os.fspath(file)!r} holds a surface mesh "
                          f"(data arrays {sorted(intents)})", cls=DimensionError,
                          expected="values per vertex (a functional, shape or label file)",
                          fix="pass the .func.gii file, not the .surf.gii mesh")
    arrays = [np.asarray(a.data) for a in img.darrays]
    if len(arrays) == 1 and arrays[0].ndim == 2:
        values = arrays[0].T  # (vertex, time) -> (time, vertex)
    else:
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1 or arrays[0].ndim != 1:
            raise input_error(argument, f"{os.fspath(file)!r} has data arrays of shapes "
                              f"{sorted(shapes)}", cls=DimensionError,
                              expected="one 1-D array per time point, or one 2-D array",
                              fix="export the file again as a GIFTI time series")
        values = np.stack(arrays, axis=0)
    hemi = _hemisphere(img, file)
    n_vertex = values.shape[1]
    structure = _STRUCTURE.get(hemi, "CIFTI_STRUCTURE_OTHER")
    labels = {int(label.key): str(label.label) for label in img.labeltable.labels}
    coords = {
        "voxel": ("voxel", np.arange(n_vertex)),
        "vertex": ("voxel", np.arange(n_vertex, dtype=np.int32)),
        "structure": ("voxel", np.full(n_vertex, structure, dtype=object)),
        "hemi": ("voxel", np.full(n_vertex, hemi, dtype=object)),
        "i": ("voxel", np.full(n_vertex, -1, dtype=np.int32)),
        "j": ("voxel", np.full(n_vertex, -1, dtype=np.int32)),
        "k": ("voxel", np.full(n_vertex, -1, dtype=np.int32)),
    }
    attrs = {"format": "gifti", "source": os.fspath(file),
             "cifti_nvertices": {structure: int(n_vertex)}}
    return GiftiData(values=values, coords=coords, tr=_time_step(img), attrs=attrs,
                     labels=labels)


def read_gifti_pair(paths: tuple[Any, ...], argument: str = "path") -> GiftiData:
    """Read one GIFTI file per hemisphere and join them along ``voxel`` (left, then right).

    Raises
    ------
    InputError
        If the files differ in time points or cannot be told apart by hemisphere.
    """
    parts = [read_gifti(p, f"{argument}[{n}]") for n, p in enumerate(paths)]
    if len(parts) == 1:
        return parts[0]
    hemis = [str(p.coords["hemi"][1][0]) for p in parts]
    if len(set(hemis)) != len(hemis) or "" in hemis:
        raise input_error(argument, f"holds GIFTI files of hemispheres {hemis}",
                          expected="one file per hemisphere, each marked left or right (by "
                          "AnatomicalStructurePrimary metadata or hemi-L/hemi-R, lh./rh. "
                          "in the name)", fix="pass (left_file, right_file)")
    n_time = {p.values.shape[0] for p in parts}
    if len(n_time) != 1:
        raise input_error(argument, f"holds GIFTI files with {sorted(n_time)} time points",
                          cls=DimensionError, expected="the same number in each hemisphere",
                          fix="pass the two hemispheres of the same run")
    order = np.argsort([0 if h == "left" else 1 for h in hemis], kind="stable")
    parts = [parts[n] for n in order]
    coords: dict[str, Any] = {}
    for name in parts[0].coords:
        coords[name] = ("voxel", np.concatenate([p.coords[name][1] for p in parts]))
    coords["voxel"] = ("voxel", np.arange(coords["vertex"][1].size))
    nvertices: dict[str, int] = {}
    for p in parts:
        nvertices.update(p.attrs["cifti_nvertices"])
    trs = {p.tr for p in parts}
    attrs = {"format": "gifti", "source": [p.attrs["source"] for p in parts],
             "cifti_nvertices": nvertices}
    labels: dict[int, str] = {}
    for p in parts:
        labels.update(p.labels)
    return GiftiData(values=np.concatenate([p.values for p in parts], axis=1), coords=coords,
                     tr=trs.pop() if len(trs) == 1 else None, attrs=attrs, labels=labels)
