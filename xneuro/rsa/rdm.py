"""Labeled representational dissimilarity matrices of any (stimulus, feature...) array."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import arrays as _backend
from xneuro.core.errors import DimensionError, InputError, input_error
from xneuro.core.schema import ITERATION, PAIR, STIMULUS, STIMULUS_
from xneuro.rsa._dense import DENSE_METRICS, bad_items, dense_distance, row_stats
from xneuro.rsa._kernels import METRICS, gram_distance
from xneuro.rsa.crossnobis import crossnobis_distance
from xneuro.rsa.forms import condensed_coords, square_coords, to_condensed

__all__ = ["ALL_METRICS", "rdm"]

logger = logging.getLogger("xneuro.rsa.rdm")

#: Every metric :func:`rdm` accepts.
ALL_METRICS = (*METRICS, "crossnobis")


def _dims_arg(value: str | Sequence[str] | None, argument: str, x: xr.DataArray) -> list[str]:
    dims = [] if value is None else [value] if isinstance(value, str) else list(value)
    missing = [d for d in dims if d not in x.dims]
    if missing:
        raise input_error(
            argument, f"names {missing}, which are not dims of x {x.dims}", cls=DimensionError,
            expected="dims of x", fix=f"pass {argument} from {list(x.dims)}",
        )
    return dims


def _check_args(x: Any, dim: str, metric: str, form: str) -> xr.DataArray:
    if isinstance(x, xr.Dataset):
        names = list(x.data_vars)
        if "activation" in names or len(names) == 1:
            x = x["activation" if "activation" in names else names[0]]
        else:
            raise input_error("x", f"is a Dataset with variables {names}",
                              expected="a DataArray", fix="pick one, e.g. x['activation']")
    if not isinstance(x, xr.DataArray):
        raise input_error(
            "x", f"is a {type(x).__name__}", expected="a DataArray, Dataset or DataTree",
            fix="wrap the patterns in xarray with a 'stimulus' dim, e.g. "
            "xr.DataArray(arr, dims=('stimulus', 'unit'))",
        )
    if dim not in x.dims:
        raise input_error(
            "dim", f"{dim!r} is not a dim of x {x.dims}", cls=DimensionError,
            expected="the dim whose entries are the RDM's items",
            fix=f"pass dim= one of {list(x.dims)}, or rename the item dim to {dim!r}",
        )
    if metric not in ALL_METRICS:
        raise input_error("metric", f"got {metric!r}", expected=f"one of {ALL_METRICS}")
    if form not in ("square", "condensed"):
        raise input_error("form", f"got {form!r}", expected="'square' or 'condensed'")
    if x.dtype.kind not in "biuf":
        raise input_error("x", f"has dtype {x.dtype}", expected="real numbers",
                          fix="convert with x.astype(float)")
    return x


def _average_labels(x: xr.DataArray, dim: str, labels: str) -> xr.DataArray:
    coord = x.coords.get(labels)
    if coord is None or coord.dims != (dim,):
        raise input_error(
            "labels", f"{labels!r} is not a coord along {dim!r}", cls=DimensionError,
            expected=f"the name of a 1-D coord on {dim!r}, e.g. 'category'",
            fix=f"x.assign_coords({labels}=({dim!r}, values)) first",
        )
    averaged = x.groupby(labels).mean(dim)  # rows in sorted label order, as np.unique
    return averaged.rename({labels: dim})


def _precision(precision: Any, n_feature: int) -> np.ndarray:
    p = np.asarray(precision.values if isinstance(precision, xr.DataArray) else precision)
    if p.shape != (n_feature, n_feature) or p.dtype.kind not in "biuf":
        raise input_error(
            "precision", f"has shape {p.shape}", cls=DimensionError,
            expected=f"a real ({n_feature}, {n_feature}) matrix, one row and column per feature",
            fix="pass the inverse of the noise covariance of the flattened features",
        )
    if not np.allclose(p, p.T):
        raise input_error("precision", "is not symmetric", expected="a symmetric matrix",
                          fix="pass (P + P.T) / 2")
    return p


def _estimated_precision(data: Any, argument_n: int, n_feature: int) -> Any:
    """Inverse sample covariance over items, per iteration (as pdist's mahalanobis)."""
    if argument_n <= n_feature:
        raise input_error(
            "x", f"has {argument_n} items for {n_feature} features", cls=DimensionError,
            expected="more items than features to estimate the covariance for 'mahalanobis'",
            fix="pass precision= (e.g. a shrinkage estimate of the noise precision), reduce "
            "the features, or use metric='euclidean'",
        )
    xc = data - data.mean(axis=-2, keepdims=True)
    cov = xc.swapaxes(-1, -2) @ xc / (argument_n - 1)
    if _backend.is_dask(cov):  # one (feature, feature) block per iteration, inverted lazily
        return cov.rechunk({1: -1, 2: -1}).map_blocks(np.linalg.inv, dtype=cov.dtype)
    return np.linalg.inv(cov)


def _patterns(
    x: xr.DataArray, dim: str, iteration: list[str], fold: list[str]
) -> tuple[Any, list[str]]:
    features = [d for d in x.dims if d != dim and d not in iteration and d not in fold]
    x = x.transpose(*iteration, *fold, dim, *features)
    data = x.data
    lead = data.shape[: len(iteration) + len(fold) + 1]
    n_feature = int(np.prod(data.shape[len(lead):], dtype=int)) if features else 1
    n_iter = int(np.prod(lead[: len(iteration)], dtype=int))
    return data.reshape(n_iter, *lead[len(iteration):], n_feature), features


def _iteration_coords(x: xr.DataArray, iteration: list[str]) -> dict[Hashable, Any]:
    if not iteration:
        return {}
    grids = np.meshgrid(*[np.arange(x.sizes[d]) for d in iteration], indexing="ij")
    coords: dict[Hashable, Any] = {ITERATION: np.arange(grids[0].size)}
    for d, grid in zip(iteration, grids, strict=True):
        values = x[d].values if d in x.coords else np.arange(x.sizes[d])
        coords[d] = (ITERATION, values[grid.ravel()])
    return coords


def _raise_bad_items(bad: pd.Index, metric: str) -> None:
    raise input_error(
        "x", f"items {list(bad[:5])}{' ...' if len(bad) > 5 else ''} have constant (or "
        f"non-finite) patterns, for which the {metric!r} distance is undefined",
        expected="patterns that vary over the features", cls=InputError,
        fix="drop those items, or use metric='euclidean'",
    )


def _dense_rdm(data: np.ndarray, metric: str, items: pd.Index, *, condensed: bool,
               scale: float) -> np.ndarray:
    """In-memory RDMs of ``(n_iter, n_item, n_feature)`` patterns, one ``?syrk`` each.

    Every iteration's patterns are prepared and checked first, so that a
    constant or non-finite pattern is reported before any Gram product runs.
    """
    prepared = [row_stats(data[k], metric) for k in range(data.shape[0])]
    bad = np.any([bad_items(stat, metric) for _, stat in prepared], axis=0)
    if bad.any():
        _raise_bad_items(items[bad], metric)
    out = [dense_distance(patterns, stat, metric, condensed=condensed, scale=scale)
           for patterns, stat in prepared]
    return out[0][None] if len(out) == 1 else np.stack(out)


def _to_dtype(data: Any, dtype: Any) -> Any:
    if dtype is None:
        dtype = np.result_type(data.dtype, np.float32)
    return data.astype(np.dtype(dtype)) if data.dtype != np.dtype(dtype) else data


def rdm(
    x: xr.DataArray | xr.Dataset | xr.DataTree,
    dim: str = STIMULUS,
    metric: str = "correlation",
    *,
    iteration: str | Sequence[str] | None = None,
    labels: str | None = None,
    fold: str | None = None,
    precision: Any = None,
    zscore: bool = False,
    per_feature: bool = False,
    form: Literal["square", "condensed"] = "square",
    dtype: Any = None,
    engine: str | None = None,
    device: str | None = None,
) -> xr.DataArray | xr.DataTree:
    """Representational dissimilarity matrix of the items along ``dim``.

    Every other dim of ``x`` (after ``iteration`` and ``fold``) is a feature;
    the distances come from one Gram-matrix product of the (item, feature)
    patterns, so a dask-backed ``x`` (chunked along ``dim`` and/or the
    features) gives a lazy, chunked RDM that works for 10k+ items.

    Parameters
    ----------
    x : DataArray, Dataset or DataTree
        Patterns, e.g. DNN activations ``(stimulus, channel, row, column)``,
        BOLD patterns ``(stimulus, voxel)`` or BERG responses. A Dataset uses
        its ``activation`` (or only) variable; a DataTree gives one RDM per
        node (per DNN layer).
    dim : str, default "stimulus"
        The dim whose entries are the items.
    metric : {"correlation", "cosine", "euclidean", "sqeuclidean", "mahalanobis", "crossnobis"}
        Distance. The first five equal :func:`scipy.spatial.distance.pdist`
        with the same name; ``"crossnobis"`` is the cross-validated squared
        Mahalanobis distance over the partitions along ``fold``.
    iteration : str or sequence of str, optional
        Dims to iterate over: one RDM per entry (e.g. ``"channel"``, or
        ``("row", "column")`` for one per position, dnnbrain's dRDM), stacked
        on a leading ``iteration`` dim with the iterated dims as coords.
    labels : str, optional
        A coord along ``dim`` (e.g. ``"category"``): patterns are averaged per
        label first and the RDM's items are the sorted labels.
    fold : str, optional
        For ``"crossnobis"``: the dim of independent partitions (runs, folds),
        at least 2, every item measured in each.
    precision : array-like, optional
        ``(n_feature, n_feature)`` noise precision for ``"mahalanobis"`` and
        ``"crossnobis"`` (features flattened in the order of ``x.dims``).
        ``"mahalanobis"`` without it uses the inverse covariance of the
        patterns over items, as pdist does (needs more items than features);
        ``"crossnobis"`` without it uses the identity.
    zscore : bool, default False
        z-score each item's pattern over features first (dnnbrain's ``-zscore``).
    per_feature : bool, default False
        Divide ``"sqeuclidean"`` and ``"crossnobis"`` by the number of
        features (rsatoolbox's convention for its euclidean and crossnobis).
    form : {"square", "condensed"}
        Square ``("stimulus", "stimulus_")`` or condensed ``("pair",)``.
    dtype : dtype, optional
        Float precision of the computation; default float32 for float32 input,
        float64 otherwise.
    engine : {"numpy", "torch", "cupy", "auto"}, optional
        Where in-memory patterns are computed (dask inputs use their chunks'
        own library); ``None`` takes the ``engine`` option.
    device : str, optional
        Device for the torch engine (``"cuda:0"``...); ``None`` takes the option.

    Returns
    -------
    DataArray or DataTree
        Named ``"rdm"``, dims ``([iteration,] stimulus, stimulus_)`` (or
        ``([iteration,] pair)``), the item labels and per-item coords on both
        item dims; attrs ``metric``. A DataTree input gives a DataTree with an
        ``rdm`` variable per node.

    Raises
    ------
    InputError
        For an unknown metric, too few items (fewer than 2) or features (fewer
        than 2 for ``"correlation"``), a missing ``fold``, a bad ``precision``,
        or items whose distance is undefined (non-finite patterns; constant
        ones for ``"correlation"``, all-zero ones for ``"cosine"``), which
        in-memory patterns report before any product runs.

    Notes
    -----
    In-memory (numpy) patterns with the correlation, cosine, euclidean and
    squared euclidean metrics cost one symmetric rank-k update (BLAS
    ``?syrk``, ``n_item^2 n_feature`` multiply-adds, half a general matrix
    product) per RDM, plus one pass over the result in cache-sized strips;
    the condensed form is written straight from one triangle, never from a
    mirrored square. Dask patterns compute only the item blocks on and above
    the diagonal, the diagonal ones as rank-k updates too.

    The computation runs in the dtype of ``x`` (``dtype`` overrides it).
    ``dtype="float32"`` on float64 patterns halves the time but loses about
    ``1e-7 |x|^2 / d^2`` of relative accuracy per distance ``d``: 2e-4 for
    items 5% of the pattern spread apart, 3e-2 at 0.5% (float64: below 1e-10).

    Examples
    --------
    >>> act = xr.DataArray(np.random.rand(10, 64), dims=("stimulus", "unit"))
    >>> d = xneuro.rsa.rdm(act, metric="correlation")  # doctest: +SKIP
    """
    if isinstance(x, xr.DataTree):
        kwargs = {"dim": dim, "metric": metric, "iteration": iteration, "labels": labels,
                  "fold": fold, "precision": precision, "zscore": zscore,
                  "per_feature": per_feature, "form": form, "dtype": dtype, "engine": engine,
                  "device": device}
        nodes = {node.path: rdm(node.to_dataset(), **kwargs).to_dataset()
                 for node in x.subtree if node.has_data}
        if not nodes:
            raise input_error("x", "is a DataTree without data", expected="one node per layer",
                              fix="pass activations, e.g. from xneuro.dnn.extract")
        return xr.DataTree.from_dict(nodes)
    x = _check_args(x, dim, metric, form)
    iter_dims = _dims_arg(iteration, "iteration", x)
    fold_dims = _dims_arg(fold, "fold", x)
    if dim in iter_dims or dim in fold_dims or set(iter_dims) & set(fold_dims):
        raise input_error("iteration/fold", f"repeat the item dim or each other ({iter_dims}, "
                          f"{fold_dims}, dim={dim!r})", expected="distinct dims")
    if metric == "crossnobis" and (len(fold_dims) != 1 or x.sizes[fold_dims[0]] < 2):
        raise input_error(
            "fold", f"is {fold!r}" if not fold_dims else f"has {x.sizes[fold_dims[0]]} entry",
            expected="the dim of 2 or more independent partitions (runs) for 'crossnobis'",
            fix="pass fold='run' with data of dims (run, stimulus, ...)",
        )
    if metric != "crossnobis" and fold_dims:
        raise input_error("fold", f"is given for metric {metric!r}",
                          expected="fold only with metric='crossnobis'",
                          fix="average over the folds first, or use metric='crossnobis'")
    if labels is not None:
        x = _average_labels(x, dim, labels)
    n_item = x.sizes[dim]
    if n_item < 2:
        raise input_error("x", f"has {n_item} item along {dim!r}", cls=DimensionError,
                          expected="at least 2 items", fix="pass more stimuli")
    data, features = _patterns(x, dim, iter_dims, fold_dims)
    data = _to_dtype(data, dtype)
    n_feature = data.shape[-1]
    if metric == "correlation" and n_feature < 2:
        raise input_error("x", f"has {n_feature} feature per item", cls=DimensionError,
                          expected="at least 2 features for 'correlation'",
                          fix="use metric='euclidean' for 1-D patterns")
    if zscore:
        mean, std = data.mean(axis=-1, keepdims=True), data.std(axis=-1, keepdims=True)
        data = (data - mean) / std
    p = None if precision is None else _precision(precision, n_feature).astype(data.dtype)
    if metric == "mahalanobis" and p is None:
        p = _estimated_precision(data, n_item, n_feature)

    engine_name = "numpy" if _backend.is_dask(data) else _backend.resolve_engine(engine)
    items = x.indexes[dim] if dim in x.indexes else pd.RangeIndex(n_item)
    per_item = {name: c.data for name, c in x.coords.items() if c.dims == (dim,) and name != dim}
    attrs = {"metric": metric, "item_dim": dim, "features": list(map(str, features))}
    if labels is not None:
        attrs["labels"] = labels
    if (engine_name == "numpy" and not _backend.is_dask(data) and metric in DENSE_METRICS
            and data.dtype in (np.float32, np.float64)):
        scale = 1.0 / n_feature if per_feature and metric == "sqeuclidean" else 1.0
        d = _dense_rdm(np.asarray(data), metric, items, condensed=form == "condensed",
                       scale=scale)
        d = d if iter_dims else d[0]
        lead = (ITERATION,) if iter_dims else ()
        coords = _iteration_coords(x, iter_dims)
        if form == "condensed":
            out = xr.DataArray(d, dims=(*lead, PAIR), name="rdm", attrs=attrs,
                               coords={**condensed_coords(items, per_item), **coords})
        else:
            out = xr.DataArray(d, dims=(*lead, STIMULUS, STIMULUS_), name="rdm", attrs=attrs,
                               coords={**square_coords(items, per_item), **coords})
        logger.debug("rdm %s of %d items x %d features (in memory)", metric, n_item, n_feature)
        return out
    if engine_name != "numpy":
        data = _backend.to_engine(np.asarray(data), engine_name, device)
        p = None if p is None else _backend.to_engine(np.asarray(p), engine_name, device)
    if metric == "crossnobis":
        d = crossnobis_distance(data, p, per_feature=per_feature)
    else:
        d = gram_distance(data, metric, p)
        if per_feature and metric == "sqeuclidean":
            d = d / n_feature
    d = _backend.to_numpy(d)
    if isinstance(d, np.ndarray) and np.isnan(d).any():  # dask: NaN shows at compute
        _raise_bad_items(items[(np.isnan(d).sum(axis=-1) >= n_item - 1).any(axis=0)], metric)
    if not iter_dims:
        d = d[0]
    coords = {**square_coords(items, per_item), **_iteration_coords(x, iter_dims)}
    dims = ((ITERATION,) if iter_dims else ()) + (STIMULUS, STIMULUS_)
    out = xr.DataArray(d, dims=dims, coords=coords, name="rdm", attrs=attrs)
    logger.debug("rdm %s of %d items x %d features", metric, n_item, n_feature)
    return to_condensed(out) if form == "condensed" else out
