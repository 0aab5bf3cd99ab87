"""dnnbrain's ``RDM`` container, backed by labeled RDMs, with its ``.rdm.h5`` files.

Layout of a ``.rdm.h5`` file (dnnbrain): root attribute ``type`` = ``"bRDM"``
(brain: one RDM per key, shape ``(n(n-1)/2,)``) or ``"dRDM"`` (DNN: repeated
RDMs per key, shape ``(n_iter, n(n-1)/2)``); one float64, gzip-compressed
dataset per key holding the strict upper triangle in
:func:`scipy.spatial.distance.pdist` order. xneuro adds a root attribute
``xneuro_items`` with the item labels when they are not ``0..n-1``; dnnbrain's
reader ignores it.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.backend import import_optional
from xneuro.core.errors import DimensionError, input_error
from xneuro.core.schema import ITERATION, PAIR
from xneuro.rsa.forms import (
    _square_block,
    as_rdm,
    is_condensed,
    items_of,
    n_items_from_pairs,
    to_condensed,
    to_square,
)

__all__ = ["RDM"]

_TYPES = ("bRDM", "dRDM")
_ITEMS_ATTR = "xneuro_items"


def _check_fname(fname: Any) -> str:
    if not isinstance(fname, str | os.PathLike) or not os.fspath(fname).endswith(".rdm.h5"):
        raise input_error("fname", f"is {fname!r}", expected="a path ending in '.rdm.h5'",
                          fix="pass e.g. 'layers.rdm.h5'")
    return os.fspath(fname)


class RDM:
    """Representational dissimilarity matrices by key (dnnbrain's ``RDM``).

    Each key (an ROI or a DNN layer) holds one RDM (``rdm_type="bRDM"``) or a
    stack of RDMs over iterations (``"dRDM"``, e.g. one per channel). Values
    are stored as labeled condensed RDMs (:mod:`xneuro.rsa.forms`).

    Parameters
    ----------
    rdm_type : {"bRDM", "dRDM"}, optional
        Set from the first array passed to :meth:`set` when omitted.

    Notes
    -----
    Unlike dnnbrain, :meth:`get` with ``triu=False`` returns the full symmetric
    square matrix (dnnbrain fills only the upper triangle); its strict upper
    triangle is the same.

    Examples
    --------
    >>> r = RDM()
    >>> r.set("V1", np.arange(6.0), triu=True)
    >>> r.n_item
    4
    """

    def __init__(self, rdm_type: str | None = None) -> None:
        if rdm_type is not None and rdm_type not in _TYPES:
            raise input_error("rdm_type", f"got {rdm_type!r}", expected=f"one of {_TYPES}")
        self.rdm_type = rdm_type
        self._rdms: dict[str, xr.DataArray] = {}

    # ------------------------------------------------------------------ properties
    @property
    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._rdms)

    @property
    def n_item(self) -> int | None:
        """Number of items (``None`` while empty)."""
        return len(self.items) if self._rdms else None

    @property
    def items(self) -> pd.Index | None:
        """Item labels shared by every key (``None`` while empty)."""
        return items_of(next(iter(self._rdms.values()))) if self._rdms else None

    def __len__(self) -> int:
        return len(self._rdms)

    def __contains__(self, key: object) -> bool:
        return key in self._rdms

    def __repr__(self) -> str:
        return f"RDM(rdm_type={self.rdm_type!r}, n_item={self.n_item}, keys={self.keys})"

    # ------------------------------------------------------------------ get/set
    def get(self, key: str, triu: bool = False) -> np.ndarray:
        """Return the RDM of ``key`` as an array.

        Parameters
        ----------
        key : str
            The key.
        triu : bool, default False
            Condensed upper-triangle vector(s) instead of square matrices.

        Returns
        -------
        ndarray
            bRDM: ``(n(n-1)/2,)`` or ``(n, n)``; dRDM: ``(n_iter, n(n-1)/2)`` or
            ``(n_iter, n, n)``.
        """
        values = np.array(self._get(key).values)
        return values if triu else _square_block(values, self.n_item)

    def labeled(self, key: str, form: str = "square") -> xr.DataArray:
        """The RDM of ``key`` as a labeled DataArray (``form`` square or condensed)."""
        c = self._get(key)
        return to_square(c) if form == "square" else c

    def _get(self, key: str) -> xr.DataArray:
        if key not in self._rdms:
            raise input_error("key", f"{key!r} is not in this RDM", expected=f"one of {self.keys}")
        return self._rdms[key]

    def set(self, key: str, rdm_arr: Any, triu: bool = False) -> None:
        """Store an RDM under ``key``.

        Parameters
        ----------
        key : str
            The key (no ``/``).
        rdm_arr : ndarray or DataArray
            bRDM: ``(n(n-1)/2,)`` with ``triu=True`` or ``(n, n)``; dRDM:
            ``(n_iter, n(n-1)/2)`` with ``triu=True`` or ``(n_iter, n, n)``
            (only the strict upper triangle of a square is read, as dnnbrain
            does). A labeled RDM (square or condensed, with ``iteration`` for
            a dRDM) keeps its item labels.
        triu : bool, default False
            Whether an array is in the condensed (upper-triangle) form.

        Raises
        ------
        InputError
            For a bad key, a shape that does not fit ``triu`` or ``rdm_type``,
            or a number of items (or item labels) other than the stored keys'.
        """
        if not isinstance(key, str) or not key or "/" in key:
            raise input_error("key", f"is {key!r}", expected="a non-empty str without '/'")
        labeled = self._as_labeled(rdm_arr, triu)
        kind = "dRDM" if labeled.ndim == 2 else "bRDM"
        if self.rdm_type is None:
            self.rdm_type = kind
        elif kind != self.rdm_type:
            raise input_error(
                "rdm_arr", f"is a {kind} of shape {tuple(labeled.shape)} (triu={triu})",
                cls=DimensionError, expected=f"a {self.rdm_type} like the other keys",
                fix="check triu=, or keep bRDMs and dRDMs in separate RDM objects",
            )
        others = [k for k in self._rdms if k != key]
        if others:
            mine, theirs = items_of(labeled, "rdm_arr"), self.items
            if len(mine) != len(theirs) or not (mine == theirs).all():
                raise input_error(
                    "rdm_arr", f"has {len(mine)} items", cls=DimensionError,
                    expected=f"the {len(theirs)} items (same labels and order) of the other keys",
                    fix="compute every RDM of this object on the same stimuli",
                )
        self._rdms[key] = labeled.rename(key)

    def _as_labeled(self, rdm_arr: Any, triu: bool) -> xr.DataArray:
        if isinstance(rdm_arr, xr.DataArray):
            c = to_condensed(as_rdm(rdm_arr, "rdm_arr"))
            lead = [d for d in c.dims if d != PAIR]
            if len(lead) > 1:
                raise input_error("rdm_arr", f"has dims {c.dims}", cls=DimensionError,
                                  expected="at most one leading 'iteration' dim")
            if lead and lead[0] != ITERATION:
                c = c.rename({lead[0]: ITERATION})
            return c.transpose(..., PAIR).astype(np.float64)
        arr = np.asarray(rdm_arr, dtype=np.float64)
        square_ok = arr.ndim in (2, 3) and arr.shape[-1] == arr.shape[-2]
        if (triu and arr.ndim not in (1, 2)) or (not triu and not square_ok):
            raise input_error(
                "rdm_arr", f"has shape {arr.shape} with triu={triu}", cls=DimensionError,
                expected="(m,) or (n_iter, m) with triu=True; (n, n) or (n_iter, n, n) with "
                "triu=False",
                fix="pass triu=True for pdist-style vectors",
            )
        n = n_items_from_pairs(arr.shape[-1], "rdm_arr") if triu else arr.shape[-1]
        items = self.items if self._rdms and self.n_item == n else None
        labeled = as_rdm(arr, "rdm_arr", items=items, triu=triu)
        return labeled if is_condensed(labeled) else to_condensed(labeled)

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        self._get(key)
        del self._rdms[key]

    # ------------------------------------------------------------------ xarray
    def to_dataset(self, form: str = "condensed") -> xr.Dataset:
        """All keys as variables of one Dataset (``form`` condensed or square)."""
        arrays = {k: (self.labeled(k, form)) for k in self._rdms}
        return xr.Dataset(arrays, attrs={"rdm_type": self.rdm_type})

    @classmethod
    def from_xarray(cls, obj: xr.DataArray | xr.Dataset | xr.DataTree) -> RDM:
        """Build from labeled RDMs: a DataArray (key = its name), a Dataset
        (key = variable) or a DataTree of :func:`xneuro.rsa.rdm` results (key = node name)."""
        if isinstance(obj, xr.DataArray):
            pairs: list[tuple[Hashable, xr.DataArray]] = [(obj.name or "rdm", obj)]
        elif isinstance(obj, xr.Dataset):
            pairs = list(obj.data_vars.items())
        elif isinstance(obj, xr.DataTree):
            pairs = [(node.name or "rdm", node["rdm"]) for node in obj.subtree
                     if "rdm" in node.data_vars]
        else:
            raise input_error("obj", f"is a {type(obj).__name__}",
                              expected="a DataArray, Dataset or DataTree of RDMs")
        out = cls()
        for key, value in pairs:
            out.set(str(key), value)
        return out

    # ------------------------------------------------------------------ files
    def save(self, fname: str | os.PathLike[str]) -> None:
        """Write a ``.rdm.h5`` file in dnnbrain's layout (see the module docstring)."""
        path = _check_fname(fname)
        if not self._rdms:
            raise input_error("RDM", "is empty", fix="set at least one key before saving")
        h5py = import_optional("h5py", extra="dnn", purpose="reading and writing .rdm.h5 files")
        items = self.items
        with h5py.File(path, "w") as f:
            f.attrs["type"] = self.rdm_type
            if not items.equals(pd.RangeIndex(len(items))):
                f.attrs[_ITEMS_ATTR] = np.asarray(items.astype(str))
            for key in self._rdms:
                f.create_dataset(key, data=self.get(key, triu=True), compression="gzip")

    def load(self, fname: str | os.PathLike[str]) -> None:
        """Read a ``.rdm.h5`` file (replacing the contents of this object)."""
        path = _check_fname(fname)
        if not os.path.isfile(path):
            raise input_error("fname", f"{path!r} does not exist", fix="check the path")
        h5py = import_optional("h5py", extra="dnn", purpose="reading and writing .rdm.h5 files")
        with h5py.File(path, "r") as f:
            rdm_type = f.attrs.get("type")
            rdm_type = rdm_type.decode() if isinstance(rdm_type, bytes) else rdm_type
            if rdm_type not in _TYPES:
                raise input_error("fname", f"{path!r} has root attribute type={rdm_type!r}",
                                  expected=f"one of {_TYPES} (a dnnbrain .rdm.h5 file)")
            labels = f.attrs.get(_ITEMS_ATTR)
            arrays = {key: np.asarray(f[key][()]) for key in f}
        self.rdm_type, self._rdms = rdm_type, {}
        for key, arr in arrays.items():
            items = None
            if labels is not None:
                items = [v.decode() if isinstance(v, bytes) else str(v) for v in labels]
            self._rdms[key] = as_rdm(arr, key, items=items, triu=True).rename(key)
