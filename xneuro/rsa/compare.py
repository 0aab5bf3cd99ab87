"""Comparing labeled RDMs, with permutation and bootstrap inference."""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import xarray as xr

from xneuro.core.errors import input_error
from xneuro.core.progress import progress_bar
from xneuro.core.schema import PAIR
from xneuro.rsa import _inference
from xneuro.rsa._compare_kernels import METHODS, score
from xneuro.rsa.forms import as_rdm, check_same_items, items_of, to_condensed

__all__ = ["METHODS", "compare", "resolve_method"]

logger = logging.getLogger("xneuro.rsa.compare")

_ALIASES = {
    "corr": "pearson", "rho": "spearman", "rho-a": "spearman", "tau-a": "kendall",
    "tau_a": "kendall", "kendall_tau_a": "kendall", "cosine_cov": "whitened_cosine",
    "corr_cov": "whitened_pearson",
}
_INFERENCE = (None, "permutation", "bootstrap")
_ALTERNATIVES = ("greater", "less", "two-sided")


def resolve_method(method: str) -> str:
    """Canonical comparison method name (accepts rsatoolbox's names as aliases)."""
    name = _ALIASES.get(method, method) if isinstance(method, str) else method
    if name not in METHODS:
        raise input_error(
            "method", f"got {method!r}", expected=f"one of {METHODS} (or {sorted(_ALIASES)})",
            fix="pass e.g. method='spearman'",
        )
    return name


def _pair_only(c: xr.DataArray) -> xr.DataArray:
    return c.drop_vars([k for k, v in c.coords.items() if PAIR in v.dims])


def _check_finite(c: xr.DataArray, argument: str) -> None:
    if c.chunks is None and not np.isfinite(c.values).all():
        bad = int((~np.isfinite(c.values)).sum())
        raise input_error(
            argument, f"has {bad} non-finite dissimilarities", expected="finite values",
            fix="check for constant patterns (correlation/cosine RDMs give NaN for them) and "
            "drop those items, or use metric='euclidean'",
        )


def _lead(c: xr.DataArray) -> list[str]:
    return [d for d in c.dims if d != PAIR]


def _flat(c: xr.DataArray) -> np.ndarray:
    return np.asarray(c.transpose(..., PAIR).values, dtype=np.float64).reshape(-1, c.sizes[PAIR])


def compare(
    a: Any,
    b: Any,
    method: str = "spearman",
    *,
    inference: Literal["permutation", "bootstrap"] | None = None,
    n_iter: int = 1000,
    alternative: Literal["greater", "less", "two-sided"] = "greater",
    ci: float = 0.95,
    seed: int | np.random.Generator | None = None,
    progress: bool | None = None,
) -> xr.DataArray | xr.Dataset:
    """Compare two RDMs of the same items.

    Parameters
    ----------
    a, b : DataArray or array
        RDMs, square or condensed (see :mod:`xneuro.rsa.forms`), with any
        leading dims (``iteration``...), which broadcast as in xarray: one RDM
        against many, or many against many paired by dim name.
    method : {"spearman", "pearson", "kendall", "cosine", "whitened_cosine", "whitened_pearson"}
        ``"kendall"`` is Kendall's tau-a (rsatoolbox's choice for RDMs with
        ties); the whitened methods weight by the inverse covariance of
        distance estimates under i.i.d. noise (rsatoolbox's ``cosine_cov`` and
        ``corr_cov``, accepted as aliases, as are ``corr`` and ``tau-a``).
    inference : {None, "permutation", "bootstrap"}
        ``"permutation"`` shuffles the item labels of ``b`` ``n_iter`` times;
        ``"bootstrap"`` resamples the items with replacement ``n_iter`` times.
    n_iter : int, default 1000
        Permutations or bootstrap samples.
    alternative : {"greater", "less", "two-sided"}
        Direction of the permutation test.
    ci : float, default 0.95
        Coverage of the bootstrap percentile interval.
    seed : int or numpy.random.Generator, optional
        Random source of the inference.
    progress : bool, optional
        Show a bar over permutations/samples; ``None`` takes the option.

    Returns
    -------
    DataArray or Dataset
        Without inference: the scores (named ``"score"``, dims the broadcast
        leading dims; lazy for dask inputs). With ``"permutation"``: a Dataset
        of ``score``, ``p_value`` and the ``null`` distribution (dim
        ``permutation``). With ``"bootstrap"``: ``score``, ``se``, ``ci_low``,
        ``ci_high`` and the ``bootstrap`` samples (dim ``sample``).

    Raises
    ------
    InputError
        If the RDMs hold different items or the same items in another order
        (the message names the mismatch), have fewer than 3 items, hold NaN,
        or an argument is unknown.

    Examples
    --------
    >>> res = xneuro.rsa.compare(model_rdm, brain_rdm, "spearman",
    ...                          inference="permutation", seed=0)  # doctest: +SKIP
    """
    method = resolve_method(method)
    if inference not in _INFERENCE:
        raise input_error("inference", f"got {inference!r}", expected=f"one of {_INFERENCE}")
    if alternative not in _ALTERNATIVES:
        raise input_error("alternative", f"got {alternative!r}", expected=f"one of {_ALTERNATIVES}")
    if inference and (not isinstance(n_iter, int | np.integer) or n_iter < 1):
        raise input_error("n_iter", f"got {n_iter!r}", expected="a positive int",
                          fix="pass e.g. n_iter=1000")
    if not 0 < ci < 1:
        raise input_error("ci", f"got {ci!r}", expected="a coverage in (0, 1), e.g. 0.95")
    a, b = as_rdm(a, "a"), as_rdm(b, "b")
    check_same_items(a, b)
    n = len(items_of(a))
    if n < 3:
        raise input_error("a and b", f"have {n} items", expected="at least 3 items (3 pairs)",
                          fix="compare RDMs of more items")
    ac, bc = _pair_only(to_condensed(a)), _pair_only(to_condensed(b))
    _check_finite(ac, "a")
    _check_finite(bc, "b")
    attrs = {"method": method}
    if inference is None:
        if ac.chunks is not None or bc.chunks is not None:
            ac, bc = ac.chunk({PAIR: -1}), bc.chunk({PAIR: -1})
        out = xr.apply_ufunc(
            score, ac, bc, input_core_dims=[[PAIR], [PAIR]], kwargs={"method": method, "n": n},
            dask="parallelized", output_dtypes=[np.float64],
        )
        return out.rename("score").assign_attrs(attrs)
    return _with_inference(ac, bc, method, n, inference, int(n_iter), alternative, ci, seed,
                           progress, attrs)


def _with_inference(
    ac: xr.DataArray, bc: xr.DataArray, method: str, n: int, inference: str, n_iter: int,
    alternative: str, ci: float, seed: Any, progress: bool | None, attrs: dict,
) -> xr.Dataset:
    ac, bc = ac.load(), bc.load()
    _check_finite(ac, "a")
    _check_finite(bc, "b")
    if _lead(ac) and _lead(bc):
        ac, bc = xr.broadcast(ac, bc)
        bc = bc.transpose(*ac.dims)
    elif _lead(bc):  # every method is symmetric in a and b: keep the many on the left
        ac, bc = bc, ac
    lead = _lead(ac)
    template = ac.isel({PAIR: 0}, drop=True)
    rng = np.random.default_rng(seed)
    first, second = _flat(ac), _flat(bc)
    observed = np.broadcast_to(score(first, second, method, n), (first.shape[0],))
    kernel = (_inference.permutation_null if inference == "permutation"
              else _inference.bootstrap_scores)
    with progress_bar(total=n_iter, desc=f"{inference} ({method})", progress=progress) as bar:
        samples = kernel(first, second, method, n, n_iter, rng, progress=bar.update)
    shape = tuple(template.shape)
    ds = xr.Dataset(coords=template.coords, attrs={**attrs, "inference": inference,
                                                   "n_iter": n_iter})
    ds["score"] = (lead, observed.reshape(shape))
    if inference == "permutation":
        ds["p_value"] = (lead, _inference.p_value(observed, samples, alternative).reshape(shape))
        ds["null"] = ((*lead, "permutation"), samples.reshape(*shape, n_iter))
        ds.attrs["alternative"] = alternative
        ds.attrs["p_value"] = "(1 + #{null at least as extreme}) / (1 + n_iter)"
    else:
        lo, hi = np.nanpercentile(samples, [50 * (1 - ci), 50 * (1 + ci)], axis=-1)
        ds["se"] = (lead, np.nanstd(samples, axis=-1, ddof=1).reshape(shape))
        ds["ci_low"] = (lead, lo.reshape(shape))
        ds["ci_high"] = (lead, hi.reshape(shape))
        ds["bootstrap"] = ((*lead, "sample"), samples.reshape(*shape, n_iter))
        ds.attrs["ci"] = ci
    logger.debug("compare %s with %s inference, %d items", method, inference, n)
    return ds
