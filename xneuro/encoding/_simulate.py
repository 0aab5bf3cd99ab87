"""Simulation for :meth:`EncodingModel.simulate`: the prediction plus seeded noise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import input_error
from xneuro.encoding import _io, _noise

if TYPE_CHECKING:  # pragma: no cover
    from xneuro.encoding.base import EncodingModel

__all__ = ["simulate"]


def simulate(model: EncodingModel, paradigm: Any, parameters: Any, weights: Any, noise: Any,
             dof: float | None, n_repeats: int,
             seed: int | np.random.Generator | None) -> pd.DataFrame | xr.DataArray:
    """Prediction plus noise; see :meth:`EncodingModel.simulate` (arguments checked here)."""
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int | np.integer) \
            or n_repeats < 1:
        raise input_error("n_repeats", f"is {n_repeats!r}", expected="a positive int")
    if seed is not None and not isinstance(seed, int | np.integer | np.random.Generator):
        raise input_error("seed", f"is a {type(seed).__name__}",
                          expected="an int, a numpy Generator, or None", fix="pass seed=0")
    rng = np.random.default_rng(seed)
    par, prm, w = model._labeled_inputs(paradigm, parameters, weights)
    n_voxels = w.value.sizes["voxel"] if w is not None else prm.value.sizes["voxel"]
    factor, dof = _noise.check_noise(noise, dof, n_voxels)
    prediction = model._predict_labeled(par.value, prm, w).compute()
    n_time = prediction.sizes["time"]
    draws = _noise.draw_noise(rng, (int(n_repeats), n_time, n_voxels), factor, dof)
    values = (np.asarray(prediction.values)[None] + draws).astype(prediction.dtype)
    voxel_index = w.index if w is not None else (prm.index if prm is not None else None)
    if any(i is not None and i.kind == "xarray" for i in (par, prm, w)):
        out = xr.DataArray(values, dims=("repeat", "time", "voxel"),
                           coords=prediction.coords, name="simulated")
        out = out.isel(repeat=0) if n_repeats == 1 else out.assign_coords(
            repeat=np.arange(n_repeats))
        return out.assign_attrs(prediction.attrs)
    frame = _io.as_output(prediction, [par, prm, w], par.index, voxel_index)
    stimulus = pd.Index(frame.index, name="stimulus")
    index = stimulus if n_repeats == 1 else pd.MultiIndex.from_product(
        [np.arange(n_repeats), stimulus], names=["repeat", "stimulus"])
    return pd.DataFrame(values.reshape(-1, n_voxels), index=index, columns=frame.columns)
