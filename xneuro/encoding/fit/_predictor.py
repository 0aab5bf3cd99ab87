"""What the fit kernels predict with: a pure ``(X, theta) -> (T, V)`` function and its ``X``.

Usually that is the model's own ``predict_array`` on its paradigm. Models whose
response is linear in the paradigm (the 2-D Gaussian and difference-of-Gaussians
pRFs, detected by their methods) get two exact shortcuts:

- with one HRF shared by all voxels, convolution commutes with the
  receptive-field product, ``conv(S @ rf) * a + b == conv(S) @ (a rf) + b``: the
  paradigm is convolved once instead of every iteration;
- the prediction is ``A @ w(theta)`` with a fixed design ``A = [X, 1]``
  (``(T, n_pixel + 1)``) and ``w = [rf; baseline]``. With the thin SVD
  ``A = U S V^T`` truncated to its numerical rank ``r`` (singular values above
  ``1e-10`` of the largest), ``|y - A w|² = |y - U U^T y|² + |U^T y - S V^T w|²``:
  the gradient fit works in ``r`` dimensions instead of ``T``. Bar-sweep paradigms
  have a rank far below their frame count (74 of 150 for the sample sweeps), which
  halves the cost of every iteration; otherwise ``r = min(T, n_pixel + 1)`` and
  nothing is lost.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import jax
import numpy as np

from xneuro.encoding.base import EncodingModel
from xneuro.encoding.fit._arrays import LRUCache
from xneuro.encoding.fit._field import gaussian_field
from xneuro.encoding.prf2d import DifferenceOfGaussiansPRF2D, GaussianPRF2D

__all__ = ["Predictor", "make_predictor", "model_token"]

logger = logging.getLogger("xneuro.encoding.fit")

_JITTED = LRUCache(16)
_LINEAR_FIELDS = (GaussianPRF2D._receptive_field, DifferenceOfGaussiansPRF2D._receptive_field)


#: Attributes that hold inputs of the labeled layer, not used by the pure prediction API.
_INPUT_ATTRIBUTES = ("_paradigm", "data", "_parameters", "_weights", "omega", "_jit_cache")


def model_token(model: EncodingModel) -> str:
    """A digest of what the model's pure predictions depend on (its stored inputs left out).

    Models with equal tokens share compiled programs: the stored paradigm, data,
    parameters and weights do not enter ``predict_array(X, theta)``.
    """
    state = {k: v for k, v in model.__dict__.items() if k not in _INPUT_ATTRIBUTES}
    try:  # cloudpickle: the transforms are lambdas
        payload = cloudpickle.dumps((type(model).__module__, type(model).__qualname__, state),
                                    protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # pragma: no cover - an unpicklable custom model
        return f"id-{id(model)}"
    return hashlib.blake2b(payload, digest_size=12).hexdigest()


def paradigm_linear(model: EncodingModel) -> bool:
    """Whether the model's neural response is ``paradigm @ rf(theta) + baseline`` with rf ∝ amplitude."""
    cls = type(model)
    return (getattr(cls, "_neural", None) is GaussianPRF2D._neural
            and getattr(cls, "_receptive_field", None) in _LINEAR_FIELDS)


@dataclass
class Predictor:
    """A pure prediction function and the paradigm array it takes.

    Attributes
    ----------
    model : EncodingModel
        The model.
    X : numpy.ndarray, shape (T, F)
        float64 paradigm array (pre-convolved when ``convolved``).
    convolved : bool
        Whether ``X`` carries the HRF (the fast path; see the module notes).
    key : str
        Identifies the model's prediction function (compiled programs are shared by key).
    token : str
        Identifies the key and ``X`` (grid predictions, job fingerprints).
    linear : bool
        Whether the prediction is ``[X, 1] @ [rf; baseline]`` (see the module notes).
    """

    model: EncodingModel
    X: np.ndarray
    convolved: bool
    key: str = field(default="")
    token: str = field(default="")
    linear: bool = False

    def reduced_fn(self, basis: Any, parameters: Any) -> Any:
        """``S V^T w(theta)``: the prediction in the reduced frame (``linear`` models only).

        ``basis`` is ``S V^T`` (``(r, n_pixel + 1)``); its last column multiplies the baseline.
        """
        model = self.model
        labels = list(model.parameter_labels)
        if type(model)._receptive_field is GaussianPRF2D._receptive_field:
            field = gaussian_field(model._grid, model.pixel_area)  # analytic backward pass
            rf = field(*(parameters[:, labels.index(k)] for k in ("x", "y", "sd", "amplitude")))
        else:
            rf = model._receptive_field(basis.dtype, parameters)  # (n_pixel, V)
        baseline = parameters[:, labels.index(model.baseline_label)]
        return basis[:, :-1] @ rf + basis[:, -1:] * baseline

    def reduce(self, Y: np.ndarray, confounds: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The reduced design ``S V^T``, data ``U^T y`` and per-voxel ``|y - U U^T y|²``.

        With confounds (orthonormal ``Q``), the design and the data are first
        projected off them, so that the reduced residual is the projected one.
        """
        A = np.column_stack([self.X, np.ones(self.n_time)])
        if confounds is not None:
            A = A - confounds @ (confounds.T @ A)
            Y = Y - confounds @ (confounds.T @ Y)
        U, s, Vt = np.linalg.svd(A, full_matrices=False)
        rank = max(1, int((s > s[0] * 1e-10).sum()))
        projected = U[:, :rank].T @ Y
        outside = np.maximum((Y * Y).sum(axis=0) - (projected * projected).sum(axis=0), 0.0)
        return s[:rank, None] * Vt[:rank], projected, outside

    @property
    def fn(self) -> Callable[[Any, Any], Any]:
        """``(X, theta) -> (T, V)``, pure JAX."""
        return self.model._neural if self.convolved else self.model.predict_array

    @property
    def labels(self) -> tuple[str, ...]:
        """The model's parameter labels."""
        return tuple(self.model.parameter_labels)

    @property
    def n_time(self) -> int:
        """Frames."""
        return int(self.X.shape[0])

    def jitted(self) -> Callable[[Any, Any], Any]:
        """``jax.jit`` of :attr:`fn`, shared by every predictor with this token in the process."""
        return _JITTED.get(self.key, lambda: jax.jit(self.fn))

    def per_voxel(self) -> int:
        """Elements of the largest per-voxel intermediate of one prediction."""
        return int(self.model._per_voxel(self.X.shape[0], self.X.shape[1]))


def make_predictor(model: EncodingModel, paradigm: Any) -> Predictor:
    """The predictor of ``model`` on ``paradigm`` (a labeled paradigm or what the model accepts)."""
    X = np.asarray(model.paradigm_array(paradigm, dtype="float64"), dtype=np.float64)
    convolved = (model.hrf_model is not None and not model.flexible_hrf_parameters
                 and paradigm_linear(model))
    if convolved:
        X = np.asarray(model.hrf_model.convolve_array(X, None, np), dtype=np.float64)
        logger.debug("%s: paradigm convolved once with the shared HRF", type(model).__name__)
    linear = paradigm_linear(model) and not model.flexible_hrf_parameters
    digest = hashlib.blake2b(np.ascontiguousarray(X).tobytes(), digest_size=8).hexdigest()
    key = f"{model_token(model)}-{int(convolved)}{int(linear)}"
    return Predictor(model, X, convolved, key, f"{key}-{digest}", linear)
