"""``Stimulus``: a table of stimuli (one row each) and dnnbrain's ``.stim.csv`` format.

File format (text): header lines ``key=value``, with ``type`` (``image``,
``video`` or ``video_clip``) and ``path`` (image folder, video file, clip
folder) required and other keys kept as strings; then ``data=col1,col2,...``
(``stimID`` required); then one comma-separated row per stimulus. Blank lines
are ignored. Column types on reading: ``stimID`` str (``image``,
``video_clip``) or int (``video``, frame numbers, read via float), ``label``
int (via float), ``condition`` str, every other column float64.

Writing reproduces dnnbrain's writer byte for byte: ``type``, ``path``, the
other keys, the ``data=`` line, and the rows without a final newline. Values
are formatted as numpy formats one array of all columns: when some column
holds strings every column keeps its own type (``1``, ``0.5``); when all are
numbers they are upcast together (``stimID`` 1 is written ``1.0`` next to a
float column, and still read back as the int 1).
"""

from __future__ import annotations

import copy as _copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import input_error
from xneuro.dnn._files import check_suffix
from xneuro.dnn._hybrid import hybridmethod

__all__ = ["Stimulus"]

SUFFIX = ".stim.csv"
TYPES = ("image", "video", "video_clip")


def _column_strings(data: Mapping[str, np.ndarray]) -> list[list[str]]:
    """Format the columns as dnnbrain's writer does (one numpy array of all columns)."""
    columns = [np.asarray(value) for value in data.values()]
    if any(column.dtype.kind in "USO" for column in columns):
        return [[str(v) for v in column.astype(str)] for column in columns]
    common = np.result_type(*columns)
    return [[str(v) for v in column.astype(common).astype(str)] for column in columns]


class Stimulus:
    """Stimulus information: a header and equal-length columns (``stimID`` and others).

    Parameters
    ----------
    header : dict, optional
        ``type`` (``"image"``, ``"video"``, ``"video_clip"``), ``path`` and any
        other string-valued keys.
    data : dict, optional
        Column name to 1-D array, all of the same length.
    """

    def __init__(
        self, header: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None
    ) -> None:
        self.header: dict[str, Any] = dict(header or {})
        self._data: dict[str, np.ndarray] = {}
        for item, value in (data or {}).items():
            self.set(item, value)

    # -- columns ---------------------------------------------------------------

    @property
    def items(self) -> list[str]:
        """Column names, in order."""
        return list(self._data)

    def __len__(self) -> int:
        return len(next(iter(self._data.values()))) if self._data else 0

    def get(self, item: str) -> np.ndarray:
        """Return the column ``item``."""
        if item not in self._data:
            raise input_error("item", f"{item!r} is not a column", expected=f"one of {self.items}")
        return self._data[item]

    def set(self, item: str, value: Any) -> None:
        """Set the column ``item`` (a 1-D array of one value per stimulus)."""
        if not isinstance(item, str) or not item or "," in item or "=" in item:
            raise input_error("item", f"is {item!r}", expected="a name without ',' or '='")
        column = np.asarray(value)
        if column.ndim != 1:
            raise input_error("value", f"has shape {column.shape}", expected="a 1-D array")
        if self._data and item not in self._data and len(column) != len(self):
            raise input_error(
                "value", f"has {len(column)} values for {len(self)} stimuli",
                expected="one value per stimulus",
            )
        self._data[item] = column

    def delete(self, item: str) -> None:
        """Remove the column ``item``."""
        self.get(item)
        del self._data[item]

    def __getitem__(self, index: Any) -> Stimulus:
        rows, cols = index if isinstance(index, tuple) else (index, slice(None))
        if isinstance(rows, int | np.integer):
            rows = [rows]
        if isinstance(cols, int | np.integer | str):
            cols = [cols]
        names = self.items[cols] if isinstance(cols, slice) else [
            self.items[c] if isinstance(c, int | np.integer) else c for c in cols
        ]
        return Stimulus(self.header, {name: self.get(name)[rows] for name in names})

    def copy(self) -> Stimulus:
        """Return a deep copy."""
        return Stimulus(_copy.deepcopy(self.header), {k: v.copy() for k, v in self._data.items()})

    def permutate(self, item: str, seed: int | None = None) -> Stimulus:
        """Return a copy with the column ``item`` shuffled.

        Parameters
        ----------
        item : str
            Column to shuffle.
        seed : int, optional
            Seed of :func:`numpy.random.default_rng` (dnnbrain uses the global
            ``random`` state, so its shuffles are not reproducible).

        Returns
        -------
        Stimulus
            A copy; this object is unchanged.
        """
        out = self.copy()
        out.set(item, np.random.default_rng(seed).permutation(self.get(item)))
        return out

    # -- conversions -------------------------------------------------------------

    def to_xarray(self) -> xr.Dataset:
        """The columns as a Dataset over ``stimulus`` (``stimID`` as its coordinate)."""
        data = {name: ("stimulus", value) for name, value in self._data.items() if name != "stimID"}
        coords = {"stimulus": self._data["stimID"]} if "stimID" in self._data else {}
        return xr.Dataset(data, coords=coords, attrs={k: str(v) for k, v in self.header.items()})

    def paths(self) -> list[Path]:
        """File of each stimulus: ``header['path'] / stimID`` (image and clip stimuli)."""
        if self.header.get("type") not in ("image", "video_clip") or "path" not in self.header:
            raise input_error(
                "stimulus", f"has type {self.header.get('type')!r}",
                expected="type 'image' (or 'video_clip') with a 'path' folder",
            )
        root = Path(str(self.header["path"]))
        return [root / str(name) for name in self.get("stimID")]

    # -- dnnbrain files ------------------------------------------------------------

    @hybridmethod
    def load(self, fname: str | os.PathLike[str]) -> Stimulus:
        """Read a dnnbrain ``.stim.csv`` into this object (replacing its content).

        Works on the class too: ``Stimulus.load(fname)`` returns a new object.
        """
        path = check_suffix(fname, SUFFIX, 'stimulus')
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
        starts = [i for i, line in enumerate(lines) if line.startswith("data=")]
        if not starts:
            raise input_error("fname", "has no 'data=' line", expected="a dnnbrain .stim.csv")
        header: dict[str, Any] = {}
        for line in lines[: starts[0]]:
            key, sep, value = line.partition("=")
            if not sep or "=" in value:
                raise input_error(
                    "fname", f"header line {line!r}", expected="exactly one 'key=value'"
                )
            header[key] = value
        for key in ("type", "path"):
            if key not in header:
                raise input_error("fname", f"has no '{key}=' line", expected="type= and path=")
        if header["type"] not in TYPES:
            raise input_error("fname", f"has type={header['type']}", expected=f"one of {TYPES}")
        names = lines[starts[0]].partition("=")[2].split(",")
        if "stimID" not in names:
            raise input_error("fname", f"data= lists {names}", expected="a 'stimID' column")
        rows = [line.split(",") for line in lines[starts[0] + 1:]]
        bad = [i for i, row in enumerate(rows) if len(row) != len(names)]
        if bad:
            raise input_error(
                "fname", f"row {bad[0] + 1} has {len(rows[bad[0]])} values",
                expected=f"{len(names)} values per row ({','.join(names)})",
            )
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        data: dict[str, np.ndarray] = {}
        for name, values in zip(names, columns, strict=True):
            if name == "stimID" and header["type"] in ("image", "video_clip"):
                data[name] = np.asarray(values, dtype=str)
            elif name in ("stimID", "label"):
                data[name] = np.asarray(values, dtype=np.float64).astype(np.int64)
            elif name == "condition":
                data[name] = np.asarray(values, dtype=str)
            else:
                data[name] = np.asarray(values, dtype=np.float64)
        self.header, self._data = header, {}
        for name, value in data.items():
            self.set(name, value)
        return self

    def save(self, fname: str | os.PathLike[str]) -> None:
        """Write the stimuli as a dnnbrain ``.stim.csv`` (byte-compatible with dnnbrain)."""
        path = check_suffix(fname, SUFFIX, 'stimulus')
        for key in ("type", "path"):
            if key not in self.header:
                raise input_error(
                    "header", f"has no {key!r}", expected="'type' and 'path' entries",
                    fix=f"stim.header[{key!r}] = ...",
                )
        if "stimID" not in self._data:
            raise input_error("data", "has no 'stimID' column", expected="a stimID column")
        lines = [f"type={self.header['type']}", f"path={self.header['path']}"]
        lines += [f"{k}={v}" for k, v in self.header.items() if k not in ("type", "path")]
        lines.append("data=" + ",".join(self.items))
        rows = [",".join(row) for row in zip(*_column_strings(self._data), strict=True)]
        with open(path, "w", encoding="utf-8", newline="") as file:
            file.write("".join(line + "\n" for line in lines) + "\n".join(rows))

    def __repr__(self) -> str:
        return f"Stimulus(type={self.header.get('type')!r}, items={self.items}, n={len(self)})"
