"""Grid ranges: read them positionally or by name, check them, and default ones per model.

braincoder's ``fit_grid(*ranges)`` takes one range per parameter label, in
label order. Here ranges may also be given by name (``fit_grid({"x": ...,
"sd": ...})`` or ``fit_grid(x=..., sd=...)``); labels left out take a default
when one makes sense (amplitude 1 and baseline 0, which the correlation cost
replaces by their closed-form values, and the HRF model's default
parameters), and are an error otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from xneuro.core.errors import input_error
from xneuro.encoding.base import EncodingModel
from xneuro.encoding.prf1d import GaussianPRF, LogGaussianPRF, VonMisesPRF
from xneuro.encoding.prf2d import (
    DifferenceOfGaussiansPRF2D,
    DivisiveNormalizationGaussianPRF2D,
    GaussianPRF2D,
)

__all__ = ["as_range", "collect_ranges", "default_ranges"]


def as_range(name: str, values: Any, bounds: tuple[float, float]) -> np.ndarray:
    """One parameter's grid values as a finite 1-D float array inside ``bounds``."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as err:
        raise input_error(f"ranges[{name!r}]", f"is {values!r}",
                          expected="numbers (a scalar or a 1-D array)") from err
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise input_error(f"ranges[{name!r}]", f"has shape {arr.shape}" + (
            "" if np.isfinite(arr).all() else " and non-finite values"),
            expected="a non-empty 1-D array of finite grid values",
            fix=f"pass e.g. np.linspace(...) for {name!r}")
    lower, upper = bounds
    bad = (arr <= lower) | (arr >= upper)
    if bad.any():
        raise input_error(f"ranges[{name!r}]", f"has values outside ({lower:g}, {upper:g}): "
                          f"{arr[bad][:3].tolist()}",
                          expected=f"values inside the model's bounds for {name!r}",
                          fix="drop those grid values")
    return np.unique(arr)


def collect_ranges(model: EncodingModel, ranges: tuple[Any, ...], named: Mapping[str, Any], *,
                   not_needed: set[str]) -> dict[str, np.ndarray]:
    """The grid values of every label of ``model`` that is not in ``not_needed``.

    Parameters
    ----------
    model : EncodingModel
        Gives the labels, bounds and HRF defaults.
    ranges : tuple
        Positional ranges: one per label in order, or one mapping by name.
    named : mapping
        Ranges given as keywords.
    not_needed : set of str
        Labels whose grid values come from elsewhere (fixed values, or the
        closed-form amplitude and baseline); a range given for them is ignored.
    """
    labels = tuple(model.parameter_labels)
    if len(ranges) == 1 and isinstance(ranges[0], Mapping):
        by_name = dict(ranges[0])
    elif not ranges:
        by_name = {}
    elif len(ranges) == len(labels):
        by_name = dict(zip(labels, ranges, strict=True))
    else:
        raise input_error("ranges", f"has {len(ranges)} positional ranges",
                          expected=f"one per parameter label {list(labels)}, in order, or a "
                          "dict of ranges by name",
                          fix="pass fit_grid({'x': xs, 'sd': sds}) or fit_grid(x=xs, sd=sds)")
    twice = sorted(set(by_name) & set(named))
    if twice:
        raise input_error("ranges", f"give {twice} both positionally and by keyword",
                          expected="each range once")
    by_name.update(named)
    unknown = sorted(set(by_name) - set(labels))
    if unknown:
        raise input_error("fit_grid", f"got unknown keyword arguments or range names {unknown}",
                          expected=f"parameter labels {list(labels)}, fixed_pars, "
                          "use_correlation_cost, positive_amplitude or chunk_size",
                          fix="check the spelling (braincoder's correlation_cost is "
                          "use_correlation_cost here)")
    bounds = model.bounds
    defaults: dict[str, float] = {}
    if model.amplitude_label is not None:
        defaults[model.amplitude_label] = 1.0
    if model.baseline_label is not None:
        defaults[model.baseline_label] = 0.0
    if model.flexible_hrf_parameters:
        defaults.update(model.hrf_model.default_parameters())
    out: dict[str, np.ndarray] = {}
    missing = []
    for label in labels:
        if label in not_needed:
            continue
        if label in by_name:
            out[label] = as_range(label, by_name[label], bounds[label])
        elif label in defaults:
            out[label] = np.array([float(defaults[label])])
        else:
            missing.append(label)
    if missing:
        raise input_error("ranges", f"lack grid values for {missing}",
                          expected=f"a range for every parameter of {type(model).__name__} "
                          "(amplitude, baseline and HRF parameters have defaults)",
                          fix=f"pass e.g. {missing[0]}=np.linspace(...)")
    return out


def _positions(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0 or np.ptp(finite) <= 0:
        raise input_error("paradigm", "has no spread of stimulus values",
                          expected="at least two distinct stimulus values to place a grid",
                          fix="pass grid ranges explicitly")
    return float(finite.min()), float(finite.max())


def default_ranges(model: EncodingModel, X: np.ndarray) -> dict[str, np.ndarray]:
    """A sensible grid for the pRF models, from the paradigm's stimulus values or pixel grid.

    1-D Gaussian: 50 centres over the stimulus range by 40 widths, geometric
    from 1/100 to 1/2 of the range; von Mises: 50 directions by 40
    concentrations; log-Gaussian: geometric centres over the positive
    stimulus values. 2-D Gaussian and difference of Gaussians: 20 x 20
    centres over the pixel grid by 10 sizes, geometric from one pixel to half
    the field (surround amplitude 0.5 and size 3). Amplitude and baseline are
    left to the closed form; HRF parameters take their defaults.

    Raises
    ------
    InputError
        For models without a default grid (pass ranges instead).
    """
    if isinstance(model, VonMisesPRF):
        return {"mu": np.linspace(-np.pi, np.pi, 50, endpoint=False),
                model.parameter_labels[1]: np.geomspace(0.1, 50.0, 40)}
    if isinstance(model, LogGaussianPRF):
        positive = X[:, 0][X[:, 0] > 0]
        lo, hi = _positions(positive) if positive.size else _positions(X[:, 0])
        first, second = model.parameter_labels[:2]
        return {first: np.geomspace(lo, hi, 50), second: np.geomspace(lo / 2, 2 * hi, 40)}
    if isinstance(model, GaussianPRF):
        lo, hi = _positions(X[:, 0])
        span = hi - lo
        return {"mu": np.linspace(lo, hi, 50), "sd": np.geomspace(span / 100, span / 2, 40)}
    if isinstance(model, GaussianPRF2D) and not isinstance(
            model, DivisiveNormalizationGaussianPRF2D) and model.grid_coordinates is not None:
        grid = model.grid_coordinates
        xs, ys = np.unique(grid["x"]), np.unique(grid["y"])
        pixel = min(np.diff(xs).min(), np.diff(ys).min())
        field = max(np.ptp(xs), np.ptp(ys))
        ranges = {"x": np.linspace(xs[0], xs[-1], 20), "y": np.linspace(ys[0], ys[-1], 20),
                  "sd": np.geomspace(pixel, field / 2, 10)}
        if isinstance(model, DifferenceOfGaussiansPRF2D):
            ranges.update(srf_amplitude=np.array([0.5]), srf_size=np.array([3.0]))
        return ranges
    raise input_error("grid", f"was not given, and {type(model).__name__} has no default grid",
                      expected="grid ranges for its parameters "
                      f"{list(model.parameter_labels)}",
                      fix="pass grid={'label': values, ...}, or init_pars=...")
