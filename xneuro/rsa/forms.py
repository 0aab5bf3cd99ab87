"""The two forms of a labeled RDM, square and condensed, and the checks between RDMs.

- square: dims ``("stimulus", "stimulus_")`` with the item labels as the index
  of both; 1-D coords along ``stimulus`` (e.g. ``category``) are repeated on
  ``stimulus_`` with a trailing underscore (``category_``);
- condensed: dim ``pair``, the strict upper triangle in
  :func:`scipy.spatial.distance.pdist` order ``(0, 1), (0, 2), ..., (n-2, n-1)``,
  with coords ``stimulus`` and ``stimulus_`` (and ``category``, ``category_``)
  along ``pair`` naming the two items of each pair.

Any other dims (``iteration`` for repeated RDMs) lead.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.schema import PAIR, STIMULUS, STIMULUS_

__all__ = [
    "as_rdm",
    "check_same_items",
    "condensed_coords",
    "is_condensed",
    "item_coords",
    "items_of",
    "n_items_from_pairs",
    "pairs",
    "square_coords",
    "to_condensed",
    "to_square",
]


def n_items_from_pairs(m: int, argument: str = "rdm") -> int:
    """Number of items ``n`` with ``n (n - 1) / 2 == m`` pairs."""
    n = round((1 + math.sqrt(1 + 8 * m)) / 2)
    if n * (n - 1) // 2 != m or m < 1:
        raise input_error(
            argument, f"has {m} pairs", cls=DimensionError,
            expected="n (n - 1) / 2 pairs for some number of items n >= 2",
            fix="pass the strict upper triangle of a square RDM (scipy pdist order)",
        )
    return n


def is_condensed(obj: xr.DataArray) -> bool:
    """Return whether a labeled RDM is in the condensed (``pair``) form."""
    return PAIR in obj.dims


def pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every pair ``i < j`` in pdist order (int32 when it fits).

    Filled row by row with slice assignments (one per item), which is several
    times faster than ``np.repeat`` with varying counts for 10k+ items.
    """
    dtype = np.int32 if n < 46_000 else np.int64
    m = n * (n - 1) // 2
    rows, cols = np.empty(m, dtype=dtype), np.empty(m, dtype=dtype)
    index = np.arange(n, dtype=dtype)
    start = 0
    for i in range(n - 1):
        stop = start + n - 1 - i
        rows[start:stop] = i
        cols[start:stop] = index[i + 1:]
        start = stop
    return rows, cols


def condensed_coords(items: pd.Index, extra: dict[Hashable, np.ndarray] | None = None) -> dict:
    """Coordinates of a condensed RDM: the two items of every pair, and per-item coords.

    ``stimulus``/``stimulus_`` (and ``name``/``name_`` for every per-item
    coord in ``extra``) along ``pair`` name the row and column item of each
    pair. Integer labels ``0 .. n-1`` (the default) are the row and column
    indices themselves (int32 below 46,000 items), so they need no gather and
    half the memory: 400 MB less for 10,000 items.
    """
    n = len(items)
    rows, cols = pairs(n)
    labels = _plain(items.to_numpy())
    plain_range = labels.dtype.kind in "iu" and np.array_equal(labels, np.arange(n))
    coords: dict[Hashable, Any] = {
        PAIR: pd.RangeIndex(len(rows)),
        STIMULUS: (PAIR, rows if plain_range else labels[rows]),
        STIMULUS_: (PAIR, cols if plain_range else labels[cols]),
    }
    for name, values in (extra or {}).items():
        values = np.asarray(values)
        coords[name] = (PAIR, values[rows])
        coords[f"{name}_"] = (PAIR, values[cols])
    return coords


def _plain(values: np.ndarray) -> np.ndarray:
    """Object arrays of strings as a str array (what xarray makes of a list of str)."""
    if values.dtype == object and all(isinstance(v, str) for v in values):
        return values.astype(str)
    return values


def square_coords(items: pd.Index, extra: dict[Hashable, np.ndarray] | None = None) -> dict:
    """Coordinates of a square RDM: items on both dims, per-item coords on both."""
    labels = _plain(items.to_numpy())
    coords: dict[Hashable, Any] = {STIMULUS: labels, STIMULUS_: labels}
    for name, values in (extra or {}).items():  # numpy or (lazy) dask values
        coords[name] = (STIMULUS, values)
        coords[f"{name}_"] = (STIMULUS_, values)
    return coords


def item_coords(obj: xr.DataArray) -> dict[Hashable, np.ndarray]:
    """The per-item coords of a labeled RDM (``category`` and the like), by name."""
    if is_condensed(obj):
        n = n_items_from_pairs(obj.sizes[PAIR])
        rows, _ = pairs(n)
        first = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]  # pair index of (i, i+1)
        out = {}
        for name, coord in obj.coords.items():
            if coord.dims == (PAIR,) and name not in (PAIR, STIMULUS, STIMULUS_) and not str(
                name
            ).endswith("_"):
                partner = obj.coords.get(f"{name}_")
                values = coord.data[first]
                last = partner.data[-1:] if partner is not None else values[-1:]
                out[name] = np.concatenate([values, last])
        return out
    return {
        name: coord.data
        for name, coord in obj.coords.items()
        if coord.dims == (STIMULUS,) and name != STIMULUS
    }


def items_of(obj: xr.DataArray, argument: str = "rdm") -> pd.Index:
    """The item labels of a labeled RDM, in order."""
    if is_condensed(obj):
        n = n_items_from_pairs(obj.sizes[PAIR], argument)
        if STIMULUS in obj.coords and STIMULUS_ in obj.coords:
            first = obj.coords[STIMULUS].values[0]
            rest = obj.coords[STIMULUS_].values[: n - 1]
            return pd.Index(np.concatenate([[first], rest]))
        return pd.RangeIndex(n)
    if STIMULUS in obj.indexes:
        return obj.indexes[STIMULUS]
    return pd.RangeIndex(obj.sizes[STIMULUS])


def _check_layout(obj: Any, argument: str) -> xr.DataArray:
    if not isinstance(obj, xr.DataArray):
        raise input_error(
            argument, f"is a {type(obj).__name__}",
            expected="a labeled RDM (DataArray with dims ('stimulus', 'stimulus_') or ('pair',))",
            fix="build it with xneuro.rsa.rdm, or wrap an array with xneuro.rsa.as_rdm",
        )
    square = STIMULUS in obj.dims and STIMULUS_ in obj.dims
    if not square and PAIR not in obj.dims:
        raise input_error(
            argument, f"has dims {obj.dims}", cls=DimensionError,
            expected="('stimulus', 'stimulus_') (square) or ('pair',) (condensed), plus "
            "leading dims such as 'iteration'",
            fix="build it with xneuro.rsa.rdm, or wrap an array with xneuro.rsa.as_rdm",
        )
    if square and obj.sizes[STIMULUS] != obj.sizes[STIMULUS_]:
        raise input_error(
            argument, f"is {obj.sizes[STIMULUS]} x {obj.sizes[STIMULUS_]}", cls=DimensionError,
            expected="a square RDM", fix="select the same items on both dims",
        )
    return obj


def as_rdm(
    obj: Any, argument: str = "rdm", items: Any = None, triu: bool | None = None
) -> xr.DataArray:
    """Return ``obj`` as a labeled RDM (square or condensed, as given).

    Parameters
    ----------
    obj : DataArray, numpy array
        A labeled RDM (returned unchanged after a check), a square ``(n, n)``
        array, a condensed ``(m,)`` vector, or a stack of either with leading
        ``iteration`` axis: ``(n_iter, n, n)`` or ``(n_iter, m)``.
    argument : str
        Name of the argument, for error messages.
    items : array-like, optional
        Item labels for an unlabeled array (default ``0 .. n-1``).
    triu : bool, optional
        Whether an unlabeled array is condensed (``True``) or square
        (``False``); guessed from the shape when omitted (a 2-D array whose
        two sizes are equal is taken as square).

    Returns
    -------
    DataArray
        Square ``(..., "stimulus", "stimulus_")`` or condensed ``(..., "pair")``.
    """
    if isinstance(obj, xr.DataArray):
        return _check_layout(obj, argument)
    arr = np.asarray(obj)
    if arr.dtype.kind not in "biuf" or arr.ndim not in (1, 2, 3):
        raise input_error(
            argument, f"is an array of shape {arr.shape} and dtype {arr.dtype}",
            cls=DimensionError,
            expected="a square (n, n) RDM, a condensed (n(n-1)/2,) vector, or a stack of "
            "either with a leading iteration axis",
            fix="pass pdist(...) output or a squareform matrix",
        )
    if triu is None:
        square = arr.ndim == 3 or (arr.ndim == 2 and arr.shape[0] == arr.shape[1] > 1)
    else:
        square = not triu
    if (square and arr.ndim == 1) or (not square and arr.ndim == 3):
        raise input_error(argument, f"has shape {arr.shape} with triu={triu}", cls=DimensionError,
                          expected="(m,) or (n_iter, m) condensed; (n, n) or (n_iter, n, n) square")
    lead = ("iteration",) if arr.ndim == (3 if square else 2) else ()
    n = arr.shape[-1] if square else n_items_from_pairs(arr.shape[-1], argument)
    labels = pd.RangeIndex(n) if items is None else pd.Index(np.asarray(items))
    if len(labels) != n:
        raise input_error(
            "items", f"has {len(labels)} labels", cls=DimensionError,
            expected=f"{n}, one per item of {argument}", fix=f"pass {n} labels",
        )
    if square:
        return xr.DataArray(arr, dims=(*lead, STIMULUS, STIMULUS_), coords=square_coords(labels))
    return xr.DataArray(arr, dims=(*lead, PAIR), coords=condensed_coords(labels))


def _condense_block(block: np.ndarray) -> np.ndarray:
    """Strict upper triangles of ``(..., n, n)`` in pdist order, copied row by row."""
    n = block.shape[-1]
    out = np.empty((*block.shape[:-2], n * (n - 1) // 2), dtype=block.dtype)
    start = 0
    for i in range(n - 1):
        stop = start + n - 1 - i
        out[..., start:stop] = block[..., i, i + 1:]
        start = stop
    return out


def _square_block(block: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((*block.shape[:-1], n, n), dtype=block.dtype)
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    out[..., mask] = block
    return out + out.swapaxes(-1, -2)


def to_condensed(rdm: xr.DataArray) -> xr.DataArray:
    """Return the condensed (``pair``) form of a labeled RDM.

    Parameters
    ----------
    rdm : DataArray
        Square ``(..., "stimulus", "stimulus_")`` RDM (a condensed one is
        returned unchanged).

    Returns
    -------
    DataArray
        Dims ``(..., "pair")``: the strict upper triangle in
        :func:`scipy.spatial.distance.pdist` order, with coords ``stimulus``
        and ``stimulus_`` along ``pair``. Lazy for dask input (the two item
        dims are brought into one chunk per iteration).
    """
    rdm = _check_layout(rdm, "rdm")
    if is_condensed(rdm):
        return rdm
    items = items_of(rdm)
    n = len(items)
    if n < 2:
        raise input_error("rdm", f"has {n} item", expected="at least 2 items",
                          fix="pass an RDM of 2 or more items")
    if rdm.chunks is not None:
        rdm = rdm.chunk({STIMULUS: -1, STIMULUS_: -1})
    out = xr.apply_ufunc(
        _condense_block, rdm.drop_vars([c for c in rdm.coords if c not in rdm.dims
                                        or c in (STIMULUS, STIMULUS_)]),
        input_core_dims=[[STIMULUS, STIMULUS_]], output_core_dims=[[PAIR]],
        dask="parallelized", output_dtypes=[rdm.dtype],
        dask_gufunc_kwargs={"output_sizes": {PAIR: n * (n - 1) // 2}}, keep_attrs=True,
    )
    coords = condensed_coords(items, item_coords(rdm))
    for name, coord in rdm.coords.items():  # coords of the leading dims
        if STIMULUS not in coord.dims and STIMULUS_ not in coord.dims and name not in out.coords:
            coords[name] = coord
    return out.assign_coords(coords)


def to_square(rdm: xr.DataArray) -> xr.DataArray:
    """Return the square form of a labeled RDM (symmetric, zero diagonal).

    Parameters
    ----------
    rdm : DataArray
        Condensed ``(..., "pair")`` RDM (a square one is returned unchanged).

    Returns
    -------
    DataArray
        Dims ``(..., "stimulus", "stimulus_")`` with the item labels on both.
    """
    rdm = _check_layout(rdm, "rdm")
    if not is_condensed(rdm):
        return rdm
    items = items_of(rdm)
    n = len(items)
    if rdm.chunks is not None:
        rdm = rdm.chunk({PAIR: -1})
    drop = [c for c, v in rdm.coords.items() if PAIR in v.dims]
    out = xr.apply_ufunc(
        _square_block, rdm.drop_vars(drop), kwargs={"n": n},
        input_core_dims=[[PAIR]], output_core_dims=[[STIMULUS, STIMULUS_]],
        dask="parallelized", output_dtypes=[rdm.dtype],
        dask_gufunc_kwargs={"output_sizes": {STIMULUS: n, STIMULUS_: n}}, keep_attrs=True,
    )
    return out.assign_coords(square_coords(items, item_coords(rdm)))


def check_same_items(a: xr.DataArray, b: xr.DataArray, names: tuple[str, str] = ("a", "b")) -> None:
    """Raise unless two RDMs hold the same items in the same order.

    Raises
    ------
    InputError
        Naming the items found in only one of them, or the first position at
        which the orders differ.
    """
    ia, ib = items_of(a, names[0]), items_of(b, names[1])
    if len(ia) == len(ib) and (ia == ib).all():
        return
    only_a = [x for x in ia if x not in set(ib)]
    only_b = [x for x in ib if x not in set(ia)]
    if only_a or only_b or len(ia) != len(ib):
        raise input_error(
            f"{names[0]} and {names[1]}",
            f"hold different items ({len(ia)} and {len(ib)}): only in {names[0]}: "
            f"{only_a[:5]}{' ...' if len(only_a) > 5 else ''}, only in {names[1]}: "
            f"{only_b[:5]}{' ...' if len(only_b) > 5 else ''}",
            expected="RDMs of the same items",
            fix=f"select the common items of both, e.g. {names[1]}.sel(stimulus=common, "
            "stimulus_=common) on square RDMs",
        )
    pos = int(np.flatnonzero(ia.to_numpy() != ib.to_numpy())[0])
    raise input_error(
        f"{names[0]} and {names[1]}",
        f"hold the same items in a different order (position {pos}: {ia[pos]!r} in "
        f"{names[0]}, {ib[pos]!r} in {names[1]})",
        expected="the same item order",
        fix=f"reorder one, e.g. {names[1]} = xneuro.rsa.to_square({names[1]}).sel("
        f"stimulus={names[0]}_items, stimulus_={names[0]}_items) with {names[0]}_items = "
        f"xneuro.rsa.items_of({names[0]})",
    )
