"""Closed-form amplitude and baseline per voxel (braincoder's ``refine_baseline_and_amplitude``).

For a model whose prediction is ``a * u + b`` (``u`` the prediction with
amplitude 1 and baseline 0), the best ``a`` and ``b`` of each voxel solve a
2 x 2 (ridge) least-squares problem: ``[b, a] = (X^T X + alpha I)^-1 X^T y`` with
``X = [1, u]``. All voxels are solved at once from five sums per voxel.
"""

from __future__ import annotations

import numpy as np

from xneuro.core.errors import input_error
from xneuro.encoding import _engine
from xneuro.encoding.fit._grid import AMPLITUDE_FLOOR
from xneuro.encoding.fit._predictor import Predictor

__all__ = ["affine_columns", "refine", "unit_predictions"]


def affine_columns(predictor: Predictor, what: str) -> tuple[int, int]:
    """Columns of amplitude and baseline, or an error when the model has no such pair."""
    model = predictor.model
    labels = predictor.labels
    amp, base = model.amplitude_label, model.baseline_label
    if amp not in labels or base not in labels:
        raise input_error("model", f"{type(model).__name__} has no amplitude and baseline that "
                          "act as amplitude * prediction + baseline", expected=f"a model for {what}",
                          fix="use a pRF model such as GaussianPRF or GaussianPRF2D")
    return labels.index(amp), labels.index(base)


def unit_predictions(predictor: Predictor, theta: np.ndarray, *, dtype: str) -> np.ndarray:
    """``(T, V)`` predictions of ``theta`` with amplitude 1 and baseline 0."""
    a, b = affine_columns(predictor, "unit predictions")
    table = np.array(theta, dtype=np.float64, copy=True)
    table[:, a], table[:, b] = 1.0, 0.0
    return np.asarray(_engine.evaluate_array(predictor.jitted(), predictor.X, table,
                                             dtype=dtype, per_voxel=predictor.per_voxel()),
                      dtype=np.float64)


def _r2(Y: np.ndarray, u: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    centred = Y - Y.mean(axis=0)
    ssr = ((Y - a * u - b) ** 2).sum(axis=0)
    return 1.0 - ssr / (centred * centred).sum(axis=0)


def refine(predictor: Predictor, Y: np.ndarray, theta: np.ndarray, *, n_iterations: int = 1,
           positive_amplitude: bool = True, l2_alpha: float = 1e-3,
           dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Refit amplitude and baseline per voxel; keep the new values where R² improves.

    Parameters
    ----------
    predictor : Predictor
        Model and paradigm (the model needs an amplitude and a baseline).
    Y : numpy.ndarray, shape (T, V)
        Voxels with finite values and non-zero variance.
    theta : numpy.ndarray, shape (V, P)
        Parameters in label order.
    n_iterations : int
        Rounds of the solve (one is exact for these models; kept for braincoder).
    positive_amplitude : bool
        Clip amplitudes at 1e-4 (also done when the model bounds them at 0).
    l2_alpha : float
        Ridge penalty on ``(baseline, amplitude)``.
    dtype : {"float32", "float64"}
        Precision of the predictions.

    Returns
    -------
    theta : numpy.ndarray, shape (V, P)
    r2 : numpy.ndarray, shape (V,)
    """
    ia, ib = affine_columns(predictor, "refine_baseline_and_amplitude")
    Y = np.asarray(Y, dtype=np.float64)
    theta = np.array(theta, dtype=np.float64, copy=True)
    u = unit_predictions(predictor, theta, dtype=dtype)
    lower = predictor.model.bounds[predictor.labels[ia]][0]
    floor = max(AMPLITUDE_FLOOR, lower) if positive_amplitude or lower >= 0 else None
    r2 = _r2(Y, u, theta[:, ia], theta[:, ib])
    n = Y.shape[0] + l2_alpha
    su, uu = u.sum(axis=0), (u * u).sum(axis=0) + l2_alpha
    sy, uy = Y.sum(axis=0), (u * Y).sum(axis=0)
    det = n * uu - su * su
    safe = np.where(det > 0, det, 1.0)
    for _ in range(n_iterations):
        a = np.where(det > 0, (n * uy - su * sy) / safe, theta[:, ia])
        if floor is not None:
            a = np.maximum(a, floor)
        b = (sy - a * su) / n
        new = _r2(Y, u, a, b)
        better = np.isfinite(new) & ~(new <= r2)  # also where the old R² is NaN
        theta[better, ia], theta[better, ib] = a[better], b[better]
        r2 = np.where(better, new, r2)
    return theta, r2
