"""Voxelwise encoding from features: cross-validated (banded) ridge over every voxel.

:func:`fit_ridge` maps a ``(sample, feature)`` matrix (DNN features of the
stimuli, HRF-convolved features over time) to every voxel of a
``(sample, voxel)`` response array with a penalty chosen per voxel by K-fold
cross-validation; the kernels of :mod:`xneuro.encoding._ridge_kernels` solve
every alpha and every voxel of a block with one SVD of the features per fold.
:func:`predict_ridge` predicts held-out stimuli, :func:`score_ridge` scores
them (optionally divided by a noise ceiling), and :func:`voxel_noise_ceiling`
estimates that ceiling from repeated measurements.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from xneuro.core.arrays import resolve_engine
from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import DimensionError, input_error
from xneuro.core.progress import progress_bar
from xneuro.core.provenance import stamp
from xneuro.encoding import _ridge_kernels as kernels

__all__ = ["fit_ridge", "predict_ridge", "score_ridge", "voxel_noise_ceiling"]

logger = logging.getLogger("xneuro.encoding.ridge")

FEATURE = "feature"
BAND = "band"
#: Default penalties: 10^-2 .. 10^8, 21 values.
DEFAULT_ALPHAS = np.logspace(-2, 8, 21)
_SAMPLE_DIMS = ("stimulus", "time")


def _spaces(features: Any) -> dict[str, Any]:
    if isinstance(features, Mapping):
        spaces = {str(k): v for k, v in features.items()}
    elif isinstance(features, list | tuple):
        spaces = {f"band{i}": f for i, f in enumerate(features)}
    else:
        spaces = {"features": features}
    if not spaces:
        raise input_error("features", "is empty", expected="at least one feature space")
    return spaces


def _find_sample_dim(features: Any, responses: xr.DataArray, sample_dim: str | None) -> str:
    if sample_dim is not None:
        return sample_dim
    first = next(iter(_spaces(features).values()))
    if not isinstance(first, xr.DataArray):
        return str(responses.dims[0])
    shared = [d for d in _SAMPLE_DIMS if d in responses.dims and d in first.dims]
    if not shared:
        raise input_error(
            "features and responses", f"share no sample dim (dims {first.dims} and "
            f"{responses.dims})", cls=DimensionError,
            expected="a common 'stimulus' or 'time' dim",
            fix="rename the sample dim of one of them, or pass sample_dim=",
        )
    return shared[0]


def _flatten(space: Any, sample_dim: str, name: str) -> xr.DataArray:
    if not isinstance(space, xr.DataArray):
        arr = np.asarray(space)
        arr = arr[:, None] if arr.ndim == 1 else arr
        if arr.ndim != 2:
            raise input_error(name, f"has shape {arr.shape}", cls=DimensionError,
                              expected="a (sample, feature) array")
        space = xr.DataArray(arr, dims=(sample_dim, FEATURE))
    if sample_dim not in space.dims:
        raise input_error(name, f"has dims {space.dims}", cls=DimensionError,
                          expected=f"a {sample_dim!r} dim", fix="rename its sample dim")
    if space.dtype.kind not in "biuf":
        raise input_error(name, f"has dtype {space.dtype}", expected="real numbers")
    rest = [d for d in space.dims if d != sample_dim]
    data = space.transpose(sample_dim, *rest).data
    data = data.reshape(data.shape[0], -1)
    coords = {sample_dim: space[sample_dim]} if sample_dim in space.coords else {}
    return xr.DataArray(data, dims=(sample_dim, FEATURE), coords=coords)


def _feature_matrix(features: Any, sample_dim: str) -> tuple[xr.DataArray, list[str], np.ndarray]:
    """One or several feature spaces as one ``(sample, feature)`` matrix, with band labels."""
    spaces = _spaces(features)
    blocks = [_flatten(space, sample_dim, "features" if len(spaces) == 1 else f"features[{k!r}]")
              for k, space in spaces.items()]
    sizes = {k: b.sizes[sample_dim] for k, b in zip(spaces, blocks, strict=True)}
    if len(set(sizes.values())) > 1:
        raise input_error("features", f"spaces have different sample counts {sizes}",
                          cls=DimensionError, expected="every feature space on the same samples")
    x = xr.concat(blocks, dim=FEATURE, join="override") if len(blocks) > 1 else blocks[0]
    band_of = np.concatenate([np.full(b.sizes[FEATURE], i) for i, b in enumerate(blocks)])
    return x, list(spaces), band_of


def _check_samples(x: xr.DataArray, responses: xr.DataArray, sample_dim: str) -> None:
    if sample_dim not in responses.dims:
        raise input_error("responses", f"has dims {responses.dims}", cls=DimensionError,
                          expected=f"the sample dim {sample_dim!r}", fix="pass sample_dim=")
    nf, nr = x.sizes[sample_dim], responses.sizes[sample_dim]
    if nf != nr:
        raise input_error(
            "features and responses", f"have {nf} and {nr} entries along {sample_dim!r}",
            cls=DimensionError, expected="one row of features per response sample",
            fix="select the same stimuli (or volumes) in both",
        )
    if sample_dim in x.indexes and sample_dim in responses.indexes and not (
            x.indexes[sample_dim].equals(responses.indexes[sample_dim])):
        raise input_error(
            "features and responses", f"label {sample_dim!r} differently or in another order",
            expected="the same labels in the same order",
            fix=f"features = features.sel({sample_dim}=responses.{sample_dim})",
        )


def _candidates(n_bands: int, n_candidates: int, seed: int) -> np.ndarray:
    """Band scalings on the simplex: uniform, each band alone, then Dirichlet(1) draws."""
    if n_bands == 1:
        return np.ones((1, 1))
    fixed = np.vstack([np.full(n_bands, 1.0 / n_bands), np.eye(n_bands)])
    extra = max(n_candidates - len(fixed), 0)
    draws = np.random.default_rng(seed).dirichlet(np.ones(n_bands), size=extra)
    return np.vstack([fixed, draws])[: max(n_candidates, 1)]


def _splits(cv: Any, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(cv, int | np.integer) and not isinstance(cv, bool):
        if not 2 <= cv <= n:
            raise input_error("cv", f"is {cv} for {n} samples",
                              expected=f"an int in [2, {n}] or a splitter")
        return kernels.kfold_splits(n, int(cv))
    if hasattr(cv, "split"):
        return [(np.asarray(a), np.asarray(b)) for a, b in cv.split(np.zeros((n, 1)))]
    try:
        folds = [(np.asarray(a), np.asarray(b)) for a, b in cv]
    except TypeError:
        folds = []
    if len(folds) < 2:
        raise input_error("cv", f"got {cv!r}", expected="an int >= 2, a scikit-learn splitter or "
                          "a list of (train, test) index arrays", fix="pass cv=5")
    return folds


def _check_alphas(alphas: Any) -> np.ndarray:
    a = np.atleast_1d(np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64))
    if a.ndim != 1 or not len(a) or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise input_error("alphas", f"got {alphas!r}", expected="non-negative finite penalties",
                          fix="pass e.g. alphas=np.logspace(-2, 8, 21)")
    return a


def fit_ridge(
    features: Any,
    responses: xr.DataArray,
    *,
    alphas: Sequence[float] | np.ndarray | None = None,
    cv: Any = 5,
    sample_dim: str | None = None,
    voxel_dim: str = "voxel",
    fit_intercept: bool = True,
    n_candidates: int = 20,
    seed: int = 0,
    voxel_batch: int = 20000,
    dtype: str | None = None,
    engine: str | None = None,
    device: str | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Ridge regression from features to every voxel, alpha chosen per voxel by CV.

    Parameters
    ----------
    features : DataArray, array, or dict / list of them
        ``(sample, feature...)`` features (extra feature dims are flattened).
        Several feature spaces (a dict name -> features, or a list) fit a
        banded ridge: a penalty scaling per band, chosen per voxel by CV from
        ``n_candidates`` scalings (uniform, each band alone, Dirichlet draws).
    responses : DataArray
        ``(sample, voxel)``: BOLD ``(time, voxel)`` or BERG ``(stimulus,
        voxel)``; dask-backed (chunked on voxel) stays lazy.
    alphas : array-like, optional
        Penalties to try; default ``logspace(-2, 8, 21)``.
    cv : int, splitter or list of (train, test), default 5
        Folds; an int gives contiguous unshuffled K folds (as scikit-learn's
        ``KFold``; use a group splitter for repeated stimuli or runs).
    sample_dim : str, optional
        The shared sample dim; found (``stimulus`` or ``time``) when omitted.
    voxel_dim : str, default "voxel"
        The target dim of ``responses`` (``vertex`` for surfaces).
    fit_intercept : bool, default True
        Fit an intercept per voxel (features and responses centred per fold).
    n_candidates : int, default 20
        Band scalings tried by the banded ridge.
    seed : int, default 0
        Seed of the banded ridge's Dirichlet draws.
    voxel_batch : int, default 20000
        Voxels per block for in-memory responses (bounds memory).
    dtype : {"float32", "float64"}, optional
        Precision; ``None`` takes the ``dtype`` option.
    engine : {"numpy", "torch", "cupy", "auto"}, optional
        Kernel engine; ``None`` takes the ``engine`` option.
    device : str, optional
        Device for torch.
    progress : bool, optional
        Show a bar over voxel blocks.

    Returns
    -------
    Dataset
        Over ``voxel``: ``weight`` ``(feature, voxel)``, ``intercept``,
        ``alpha`` (chosen penalty) and ``cv_r2`` (mean validation R² at that
        penalty); banded fits add ``band_scale`` ``(band, voxel)`` (the
        chosen scaling ``gamma`` on the simplex: band ``b``'s features are
        scaled by ``sqrt(gamma_b)``, i.e. penalised by ``alpha / gamma_b``) and
        a ``band`` coord on ``feature``. Lazy when ``responses`` is dask-backed.

    Raises
    ------
    InputError
        For misaligned samples, bad ``alphas`` or ``cv``, or non-finite values.

    Examples
    --------
    >>> fit = xneuro.encoding.fit_ridge(features, bold, alphas=np.logspace(0, 6, 13))  # doctest: +SKIP
    >>> pred = xneuro.encoding.predict_ridge(fit, test_features)  # doctest: +SKIP
    """
    if not isinstance(responses, xr.DataArray):
        raise input_error("responses", f"is a {type(responses).__name__}",
                          expected="a (sample, voxel) DataArray",
                          fix="xneuro.core.schema.as_timeseries(...) or xr.DataArray(...)")
    if voxel_dim not in responses.dims or responses.ndim != 2:
        raise input_error("responses", f"has dims {responses.dims}", cls=DimensionError,
                          expected=f"(sample, {voxel_dim!r})",
                          fix="flatten the space under a mask, or pass voxel_dim=")
    sample_dim = _find_sample_dim(features, responses, sample_dim)
    x_da, band_names, band_of = _feature_matrix(features, sample_dim)
    _check_samples(x_da, responses, sample_dim)
    alphas = _check_alphas(alphas)
    dtype = np.dtype(resolve_dtype(dtype))
    engine_name = resolve_engine(engine)
    for name, value in (("voxel_batch", voxel_batch), ("n_candidates", n_candidates)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise input_error(name, f"got {value!r}", expected="a positive int")
    x = x_da.transpose(sample_dim, FEATURE).data.astype(dtype)
    y = responses.transpose(sample_dim, voxel_dim)
    splits = _splits(cv, x.shape[0])
    gammas = _candidates(len(band_names), n_candidates, seed)
    scales = np.sqrt(gammas)[:, band_of]
    settings = {"alphas": alphas, "fit_intercept": fit_intercept, "engine": engine_name,
                "device": device}
    args = (splits, scales, fit_intercept, engine_name, device)
    logger.debug("ridge: %d samples x %d features -> %d voxels, %d alphas, %d folds, %d band "
                 "scalings", x.shape[0], x.shape[1], y.shape[1], len(alphas), len(splits),
                 len(gammas))
    if y.chunks is not None:  # lazy: one shared task factorises, one task per voxel chunk
        yd = y.data.rechunk({0: -1}).astype(dtype)
        fac = dask.delayed(_factorise_checked, pure=True)(x, *args)
        packed = da.map_blocks(_solve_checked, yd, fac, chunks=((x.shape[1] + 4,), yd.chunks[1]),
                               dtype=dtype, **settings)
    else:
        values = np.asarray(y.values, dtype=dtype)
        if not np.isfinite(values).all():
            raise input_error("responses", "holds NaN or inf", expected="finite values",
                              fix="mask out voxels without signal first")
        fac = _factorise_checked(np.asarray(x), *args)
        parts = []
        for start in progress_bar(range(0, values.shape[1], voxel_batch), desc="ridge blocks",
                                  progress=progress):
            parts.append(kernels.solve_block(values[:, start:start + voxel_batch], fac,
                                             **settings))
        packed = np.concatenate(parts, axis=1)
    return _as_dataset(packed, x_da, y, voxel_dim, band_names, band_of, gammas, alphas,
                       len(splits), sample_dim, fit_intercept)


def _factorise_checked(x: np.ndarray, *args: Any) -> list:
    if not np.isfinite(x).all():
        raise input_error("features", "holds NaN or inf", expected="finite values",
                          fix="impute or drop the bad samples")
    return kernels.factorise(x, *args)


def _solve_checked(block: np.ndarray, factors: list, **kwargs: Any) -> np.ndarray:
    if not np.isfinite(block).all():
        raise input_error("responses", "holds NaN or inf in a voxel chunk",
                          expected="finite values", fix="mask out voxels without signal first")
    return kernels.solve_block(block, factors, **kwargs)


def _gather_gammas(cand: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    return gammas[:, cand]


def _as_dataset(packed: Any, x_da: xr.DataArray, y: xr.DataArray, voxel_dim: str,
                band_names: list[str], band_of: np.ndarray, gammas: np.ndarray,
                alphas: np.ndarray, n_folds: int, sample_dim: str, fit_intercept: bool,
                ) -> xr.Dataset:
    p = x_da.sizes[FEATURE]
    coords: dict[Hashable, Any] = {k: v for k, v in y.coords.items() if v.dims == (voxel_dim,)}
    feature_coords: dict[Hashable, Any] = {FEATURE: np.arange(p)}
    if len(band_names) > 1:
        feature_coords[BAND] = (FEATURE, np.asarray(band_names)[band_of])
    ds = xr.Dataset(
        {
            "weight": ((FEATURE, voxel_dim), packed[:p]),
            "intercept": (voxel_dim, packed[p]),
            "alpha": (voxel_dim, packed[p + 1]),
            "cv_r2": (voxel_dim, packed[p + 2]),
        },
        coords={**coords, **feature_coords},
    )
    if len(band_names) > 1:
        cand = packed[p + 3].astype(int)
        if isinstance(cand, np.ndarray):
            scale = gammas.T[:, cand]
        else:
            scale = da.map_blocks(_gather_gammas, cand, gammas=gammas.T, new_axis=0,
                                  chunks=((gammas.shape[1],), cand.chunks[0]), dtype=gammas.dtype)
        ds["band_scale"] = ((BAND, voxel_dim), scale)
        ds = ds.assign_coords({"band_name": (BAND, band_names)})
    ds["cv_r2"].attrs = {"long_name": "mean validation R² at the chosen alpha"}
    attrs = {"alphas": alphas.tolist(), "n_folds": n_folds, "sample_dim": sample_dim,
             "fit_intercept": int(fit_intercept), "bands": band_names}
    return stamp(ds.assign_attrs(attrs), "xneuro.encoding.fit_ridge",
                 {"alphas": alphas.tolist(), "n_folds": n_folds})


def predict_ridge(fit: xr.Dataset, features: Any) -> xr.DataArray:
    """Predict responses of (held-out) samples from a :func:`fit_ridge` result.

    Parameters
    ----------
    fit : Dataset
        Output of :func:`fit_ridge`.
    features : DataArray, array, or dict / list of them
        ``(sample, feature...)`` features laid out as at fit time.

    Returns
    -------
    DataArray
        ``(sample, voxel)`` predictions (lazy when the fit or features are).
    """
    if not isinstance(fit, xr.Dataset) or "weight" not in fit:
        raise input_error("fit", "is not a fit_ridge result", expected="a Dataset with 'weight'",
                          fix="pass the output of xneuro.encoding.fit_ridge")
    voxel_dim = next(d for d in fit["weight"].dims if d != FEATURE)
    sample_dim = fit.attrs.get("sample_dim", "stimulus")
    x_da, _, _ = _feature_matrix(features, sample_dim)
    if x_da.sizes[FEATURE] != fit.sizes[FEATURE]:
        raise input_error("features", f"have {x_da.sizes[FEATURE]} features", cls=DimensionError,
                          expected=f"{fit.sizes[FEATURE]}, as at fit time",
                          fix="pass the same feature spaces in the same order")
    w = fit["weight"].drop_vars([c for c in fit["weight"].coords
                                 if c != FEATURE and FEATURE in fit[c].dims])
    pred = xr.dot(x_da.astype(w.dtype), w, dim=FEATURE) + fit["intercept"]
    return pred.transpose(sample_dim, voxel_dim).rename("prediction")


def score_ridge(fit: xr.Dataset, features: Any, responses: xr.DataArray, *,
                metric: str = "r2", noise_ceiling: xr.DataArray | None = None) -> xr.DataArray:
    """Score held-out predictions per voxel, optionally as a fraction of the noise ceiling.

    Parameters
    ----------
    fit : Dataset
        Output of :func:`fit_ridge`.
    features : DataArray or array
        Held-out features.
    responses : DataArray
        Held-out ``(sample, voxel)`` responses.
    metric : {"r2", "r"}
        Coefficient of determination or Pearson correlation per voxel.
    noise_ceiling : DataArray, optional
        Per-voxel ceiling in the same units (e.g. :func:`voxel_noise_ceiling`
        for ``"r2"``); the score is divided by it.

    Returns
    -------
    DataArray
        Per voxel, named ``metric`` (``metric + "_normalised"`` with a ceiling).
    """
    if metric not in ("r2", "r"):
        raise input_error("metric", f"got {metric!r}", expected="'r2' or 'r'")
    pred = predict_ridge(fit, features)
    sample_dim = pred.dims[0]
    truth = responses.transpose(*pred.dims)
    if truth.shape != pred.shape:
        raise input_error("responses", f"has shape {truth.shape}", cls=DimensionError,
                          expected=f"{pred.shape}, the held-out samples x voxels")
    if metric == "r2":
        resid = ((truth - pred) ** 2).sum(sample_dim)
        total = ((truth - truth.mean(sample_dim)) ** 2).sum(sample_dim)
        out = 1 - resid / total
    else:
        out = xr.corr(truth, pred, dim=sample_dim)
    name = metric
    if noise_ceiling is not None:
        out = out / noise_ceiling
        name = f"{metric}_normalised"
    return out.rename(name)


def voxel_noise_ceiling(responses: xr.DataArray, repeat_dim: str = "repeat",
                        sample_dim: str = "stimulus", n_average: int | None = None,
                        ) -> xr.DataArray:
    """Noise ceiling per voxel from repeated measurements (NSD's ncsnr).

    With ``sigma_n^2`` the mean over samples of the variance across repeats
    and ``sigma_t^2`` the variance of all single measurements, the signal
    variance is ``max(sigma_t^2 - sigma_n^2, 0)``, ``ncsnr = sigma_s /
    sigma_n`` and the ceiling, as a fraction of variance explainable in the
    average of ``n_average`` repeats, is ``ncsnr^2 / (ncsnr^2 + 1 / n_average)``.

    Parameters
    ----------
    responses : DataArray
        ``(repeat, sample, voxel)`` measurements, every sample in every repeat.
    repeat_dim, sample_dim : str
        The dims of repeats and samples.
    n_average : int, optional
        Repeats averaged in the data being predicted; default all.

    Returns
    -------
    DataArray
        Ceiling in [0, 1] per voxel, named ``noise_ceiling``.
    """
    for dim in (repeat_dim, sample_dim):
        if dim not in responses.dims:
            raise input_error("responses", f"has dims {responses.dims}", cls=DimensionError,
                              expected=f"a {dim!r} dim", fix=f"pass {dim!r} or rename the dim")
    n_rep = responses.sizes[repeat_dim]
    if n_rep < 2:
        raise input_error("responses", f"has {n_rep} repeat", expected="at least 2 repeats")
    n_average = n_rep if n_average is None else n_average
    noise = responses.var(repeat_dim, ddof=1).mean(sample_dim)
    total = responses.var((repeat_dim, sample_dim), ddof=1)
    snr2 = (total - noise).clip(min=0) / noise
    return (snr2 / (snr2 + 1.0 / n_average)).rename("noise_ceiling")
