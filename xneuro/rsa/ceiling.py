"""Noise ceilings of RDM comparisons from several independent measurements (subjects).

With ``S`` subjects' RDMs of the same items, each normalised the way the
comparison ``method`` sees it (ranked for Spearman and Kendall, z-scored for Pearson, scaled for cosine, whitened-norm scaled for the whitened
methods):

- upper bound: mean over subjects of ``compare(rdm_s, mean of all S)``: the
  mean RDM is (close to) the best any model can do, and it includes ``rdm_s``;
- lower bound: mean over subjects of ``compare(rdm_s, mean of the other S-1)``
  (leave-one-subject-out), which a model as good as the true one reaches.

This is the ceiling of Nili et al. (2014), as in rsatoolbox's
``boot_noise_ceiling`` without the bootstrap and dnnbrain's ``ceiling_RSA``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.schema import PAIR
from xneuro.rsa._compare_kernels import left, score
from xneuro.rsa.compare import resolve_method
from xneuro.rsa.forms import as_rdm, items_of, to_condensed

__all__ = ["noise_ceiling"]


def _normalised(v: np.ndarray, method: str, n: int) -> np.ndarray:
    if method in ("spearman", "kendall"):
        return stats.rankdata(v, axis=-1)  # plain ranks: their means keep exact ties
    return left(v, method, n)


def noise_ceiling(rdms: Any, dim: str = "subject", method: str = "spearman") -> xr.Dataset:
    """Lower and upper noise ceiling of RDM comparisons.

    Parameters
    ----------
    rdms : DataArray
        RDMs (square or condensed) with a dim ``dim`` of independent
        measurements (subjects, sessions) of the same items; other leading dims
        (``roi``...) give one ceiling each.
    dim : str, default "subject"
        The dim of the measurements; at least 2 entries.
    method : str, default "spearman"
        The comparison the ceiling is for (see :func:`xneuro.rsa.compare`).

    Returns
    -------
    Dataset
        ``lower`` and ``upper`` (mean over ``dim``), and ``lower_each`` and
        ``upper_each`` per measurement along ``dim``.

    Raises
    ------
    InputError
        If ``dim`` is missing or has fewer than 2 entries, or the RDMs hold NaN.
    """
    method = resolve_method(method)
    rdms = as_rdm(rdms, "rdms")
    if dim not in rdms.dims or rdms.sizes[dim] < 2:
        found = f"{rdms.sizes[dim]} entry along {dim!r}" if dim in rdms.dims else (
            f"dims {rdms.dims}")
        raise input_error(
            "rdms", f"has {found}", cls=DimensionError,
            expected=f"a dim {dim!r} of 2 or more independent measurements of the same items",
            fix="stack the subjects' RDMs with xr.concat(rdms, dim='subject')",
        )
    n = len(items_of(rdms, "rdms"))
    c = to_condensed(rdms)
    c = c.drop_vars([k for k, v in c.coords.items() if PAIR in v.dims]).load()
    if not np.isfinite(c.values).all():
        raise input_error("rdms", "holds non-finite dissimilarities", expected="finite values",
                          fix="drop items whose patterns are constant")
    c = c.transpose(..., dim, PAIR)
    raw = np.asarray(c.values, dtype=np.float64)
    norm = _normalised(raw, method, n)
    n_sub = raw.shape[-2]
    total = norm.sum(axis=-2, keepdims=True)
    upper_each = score(raw, np.broadcast_to(total / n_sub, raw.shape), method, n)
    others = (total - norm) / (n_sub - 1)
    lower_each = score(raw, others, method, n)
    lead = [d for d in c.dims if d != PAIR]
    each = c.isel({PAIR: 0}, drop=True)
    ds = xr.Dataset(coords=each.coords, attrs={"method": method, "dim": dim})
    ds["lower_each"] = (lead, lower_each)
    ds["upper_each"] = (lead, upper_each)
    ds["lower"] = ds["lower_each"].mean(dim)
    ds["upper"] = ds["upper_each"].mean(dim)
    return ds
