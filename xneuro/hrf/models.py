"""HRF models: the base class, and an HRF from a kernel you supply.

An HRF model holds the kernel(s) that turn a neural time course into BOLD,
sampled at the TR. It convolves any ``(time, ...)`` series causally with an
output as long as the input (:func:`xneuro.hrf.convolve`), one kernel shared
by every series or one per series (``unique_hrfs=True``). Models with
parameters (:class:`~xneuro.hrf.SPMHRFModel`) expose them for fitting: labels,
bounds, and pure transforms to an unconstrained space.

Pure array API (used by :mod:`xneuro.encoding`, differentiable under JAX)
-------------------------------------------------------------------------
``hrf_model.kernel(hrf_parameters=None, xp=numpy)``
    ``(L,)`` kernel, or ``(L, V)`` kernels for ``hrf_parameters`` of shape
    ``(V, n_parameters)`` in :attr:`HRFModel.parameter_labels` order.
``hrf_model.convolve_array(x, hrf_parameters=None, xp=numpy, padding="edge")``
    Convolve ``x`` of shape ``(T, ...)``.
``hrf_model.transform_forward(u, xp)`` / ``transform_backward(p, xp)``
    Unconstrained <-> bounded values, ``(..., n_parameters)``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from xneuro.core.errors import DimensionError, input_error
from xneuro.hrf import _kernels

__all__ = ["CustomHRFModel", "HRFModel"]

logger = logging.getLogger("xneuro.hrf.models")


def _positive(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not (
        np.isfinite(value) and value > 0
    ):
        raise input_error(name, f"is {value!r}", expected="a positive finite number",
                          fix=f"pass e.g. {name}=1.5")
    return float(value)


class HRFModel:
    """Base class of the HRF models: a kernel sampled at the TR, and convolution with it.

    Parameters
    ----------
    unique_hrfs : bool, default False
        One HRF per series (voxel) instead of one shared by all. For models
        with parameters, this makes the parameters per voxel; encoding models
        then fit them per voxel (``flexible_hrf_parameters``).
    tr : float, optional
        Seconds between kernel samples; compared with the TR of labeled
        inputs before convolving.

    Notes
    -----
    Subclasses implement :meth:`kernel`; models with parameters also set
    :attr:`parameter_labels` and override :attr:`bounds` and the transforms.
    """

    #: Labels of the fittable HRF parameters, in order.
    parameter_labels: tuple[str, ...] = ()

    def __init__(self, unique_hrfs: bool = False, tr: float | None = None) -> None:
        if not isinstance(unique_hrfs, bool | np.bool_):
            raise input_error("unique_hrfs", f"is {unique_hrfs!r}", expected="True or False")
        self.unique_hrfs = bool(unique_hrfs)
        self.tr = _positive("tr", tr, allow_none=True)

    # ------------------------------------------------------------ parameters
    @property
    def n_parameters(self) -> int:
        """Number of fittable HRF parameters."""
        return len(self.parameter_labels)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """``{label: (lower, upper)}`` of the fittable parameters (empty here)."""
        return {}

    def default_parameters(self) -> dict[str, float]:
        """The parameter values used when none are given."""
        return {}

    def transform_forward(self, unconstrained: Any, xp: Any = np) -> Any:
        """Map unconstrained values ``(..., n_parameters)`` into the bounds (identity here)."""
        return unconstrained

    def transform_backward(self, parameters: Any, xp: Any = np) -> Any:
        """Inverse of :meth:`transform_forward` (identity here)."""
        return parameters

    # ---------------------------------------------------------------- kernels
    @property
    def n_taps(self) -> int:
        """Kernel length in samples."""
        return int(np.shape(self.kernel())[0])

    def kernel(self, hrf_parameters: Any = None, xp: Any = np) -> Any:
        """Return the kernel(s); time (taps) first.

        Parameters
        ----------
        hrf_parameters : array of shape (n_parameters,) or (V, n_parameters), optional
            Parameters in :attr:`parameter_labels` order: one set gives one
            kernel, one row per series gives one kernel per series; ``None``
            gives the default kernel.
        xp : module
            ``numpy`` or ``jax.numpy``.

        Returns
        -------
        array, shape (L,) or (L, V)
        """
        raise NotImplementedError(f"{type(self).__name__} does not define kernel()")

    def get_hrf(self, **hrf_parameters: Any) -> np.ndarray:
        """Return the kernel as numpy, braincoder-style: ``get_hrf(hrf_delay=..., ...)``.

        Parameters
        ----------
        **hrf_parameters : float or array of shape (V,)
            Values of :attr:`parameter_labels`; omitted ones take their
            defaults. Any array gives one kernel per element.

        Returns
        -------
        numpy.ndarray, shape (L,) or (L, V)
        """
        return np.asarray(self.kernel(self._parameter_array(hrf_parameters)))

    def _parameter_array(self, values: dict[str, Any], n_units: int | None = None) -> Any:
        """``(V, n_parameters)`` array from keyword values, or None for the defaults."""
        unknown = sorted(set(values) - set(self.parameter_labels))
        if unknown:
            raise input_error(
                "hrf_parameters", f"has unknown names {unknown}",
                expected=f"names from {list(self.parameter_labels)}",
                fix=f"{type(self).__name__} has "
                + (f"parameters {list(self.parameter_labels)}" if self.parameter_labels
                   else "no parameters; drop them"))
        given = {k: v for k, v in values.items() if v is not None}
        if not given and n_units is None:
            return None
        defaults = self.default_parameters()
        arrays = {k: np.asarray(given.get(k, defaults[k]), dtype=float)
                  for k in self.parameter_labels}
        sizes = {k: a.size for k, a in arrays.items() if a.ndim}
        if any(a.ndim > 1 for a in arrays.values()):
            raise input_error("hrf_parameters", "has arrays with more than one dim",
                              expected="scalars, or 1-D arrays with one value per series",
                              cls=DimensionError)
        n = n_units if n_units is not None else (max(sizes.values()) if sizes else None)
        if n is None:  # scalars: one shared kernel
            table = np.stack([arrays[k] for k in self.parameter_labels])
            self.check_parameters(table[None, :])
            return table
        bad = {k: s for k, s in sizes.items() if s != n}
        if bad:
            raise input_error("hrf_parameters", f"has sizes {bad} for {n} series",
                              expected=f"one value per series ({n})", cls=DimensionError,
                              fix="pass one value per voxel, or a scalar shared by all")
        table = np.stack([np.broadcast_to(arrays[k], (n,)) for k in self.parameter_labels], 1)
        self.check_parameters(table)
        return table

    def check_parameters(self, table: np.ndarray) -> None:
        """Raise if any value of a ``(V, n_parameters)`` table is non-finite or out of bounds."""
        for i, label in enumerate(self.parameter_labels):
            column = table[:, i]
            lower, upper = self.bounds[label]
            bad = ~np.isfinite(column) | (column < lower) | (column > upper)
            if bad.any():
                raise input_error(
                    label, f"has {int(bad.sum())} values outside [{lower:g}, {upper:g}] or "
                    f"non-finite (first: {column[bad][:3].tolist()})",
                    expected=f"finite values within the bounds of {type(self).__name__}",
                    fix=f"clip them, or widen the bounds (min_/max_ arguments of "
                    f"{type(self).__name__})")

    def convolve_array(self, x: Any, hrf_parameters: Any = None, xp: Any = np, *,
                       padding: str = "edge") -> Any:
        """Convolve ``x`` (time first) with the kernel(s); pure, no checks.

        Parameters
        ----------
        x : array, shape (T, ...)
            Series, time first.
        hrf_parameters : array of shape (n_parameters,) or (V, n_parameters), optional
            One parameter set, or one per series (kernels broadcast against
            ``x.shape[1:]``).
        xp : module
            ``numpy`` or ``jax.numpy``.
        padding : {"edge", "zero"}
            What precedes the first sample; see :func:`xneuro.hrf._kernels.convolve`.

        Returns
        -------
        array, shape of ``x``
        """
        return _kernels.convolve(x, self.kernel(hrf_parameters, xp), xp, padding=padding)

    def convolve(self, timeseries: Any, *, padding: str = "edge", **hrf_parameters: Any) -> Any:
        """Convolve a timeseries with this HRF; see :func:`xneuro.hrf.convolve`."""
        from xneuro.hrf.convolve import convolve

        return convolve(timeseries, self, padding=padding, **hrf_parameters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tr={self.tr}, unique_hrfs={self.unique_hrfs})"


class CustomHRFModel(HRFModel):
    """An HRF given as a kernel sampled at the TR.

    Parameters
    ----------
    hrf : array-like, shape (L,) or (L, V)
        The kernel, time first; a 2-D kernel has one column per series (voxel)
        and makes ``unique_hrfs`` True. Used as given: it is not normalised.
    tr : float, optional
        Seconds between samples, checked against labeled inputs.

    Raises
    ------
    InputError
        For an empty, non-finite or more than 2-D kernel.
    """

    def __init__(self, hrf: Any, tr: float | None = None) -> None:
        values = np.asarray(getattr(hrf, "values", hrf), dtype=float)
        if values.ndim not in (1, 2) or values.shape[0] == 0 or not np.isfinite(values).all():
            raise input_error("hrf", f"has shape {values.shape}" + (
                "" if np.isfinite(values).all() else " and non-finite values"),
                expected="a finite (L,) kernel or (L, n_voxel) kernels, time first",
                fix="pass the HRF sampled at the TR, e.g. xneuro.hrf.SPMHRFModel(tr).get_hrf()")
        super().__init__(unique_hrfs=values.ndim == 2, tr=tr)
        self.hrf = values

    def kernel(self, hrf_parameters: Any = None, xp: Any = np) -> Any:
        """Return the stored kernel (``hrf_parameters`` must be None)."""
        return xp.asarray(self.hrf)
