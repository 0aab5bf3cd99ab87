"""Cross-validated Mahalanobis (crossnobis) distances.

For items ``i, j``, ``K`` independent partitions (runs, folds) ``A, B`` of the
measurements and a noise precision ``P``, the crossnobis distance is

.. math::

    d_{ij} = \\frac{1}{K (K - 1)} \\sum_{A \\neq B}
             (x_i^A - x_j^A)\\, P\\, (x_i^B - x_j^B)^T

(Walther et al. 2016): an unbiased estimate of the squared Mahalanobis
distance, zero in expectation for items whose true patterns are equal, and
negative by chance. With ``per_feature=True`` it is divided by the number of
features, as rsatoolbox's ``calc_rdm(method="crossnobis")`` does.

The sum over fold pairs is two Gram-matrix products: with ``T = sum_A X^A``,
``sum_{A != B} X^A P X^B^T = T P T^T - sum_A X^A P X^A^T``.
"""

from __future__ import annotations

from typing import Any

from xneuro.rsa._kernels import _swap, zero_diagonal

__all__ = ["crossnobis_distance"]


def crossnobis_distance(x: Any, precision: Any = None, per_feature: bool = False) -> Any:
    """Crossnobis distances between items from fold-wise patterns.

    Parameters
    ----------
    x : array, shape (..., n_fold, n_item, n_feature)
        Patterns of every item in every fold (numpy, dask, cupy or torch).
    precision : array, shape (n_feature, n_feature), optional
        Noise precision (inverse noise covariance); identity when omitted
        (then the estimator is the cross-validated squared Euclidean distance).
    per_feature : bool, default False
        Divide by the number of features.

    Returns
    -------
    array, shape (..., n_item, n_item)
        Symmetric, zero diagonal; may be negative.
    """
    n_fold, n_feature = x.shape[-3], x.shape[-1]
    x = x - x.mean(axis=-2, keepdims=True)  # per fold over items: differences are unchanged
    xw = x if precision is None else x @ precision
    total, total_w = x.sum(axis=-3), xw.sum(axis=-3)
    cross = total_w @ _swap(total) - (xw @ _swap(x)).sum(axis=-3)
    diag = (total_w * total).sum(axis=-1) - (xw * x).sum(axis=-1).sum(axis=-2)
    d = diag[..., :, None] + diag[..., None, :] - 2 * cross
    scale = n_fold * (n_fold - 1) * (n_feature if per_feature else 1)
    d = (d + _swap(d)) / (2 * scale)  # exact symmetry: the halves come from separate products
    return zero_diagonal(d)
