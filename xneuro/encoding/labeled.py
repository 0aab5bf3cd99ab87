"""Labeled entry points of the encoding models: :func:`predict` (twin of ``bold.encode.predict``).

:func:`~xneuro.encoding.weights.fit_weights` (twin of ``bold.encode.fit_weights``)
lives with the weight fitter.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from xneuro.core import schema
from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding.base import EncodingModel

__all__ = ["check_model", "predict"]


def check_model(model: Any) -> EncodingModel:
    """Raise unless ``model`` is an encoding model."""
    if not isinstance(model, EncodingModel):
        raise input_error("model", f"is a {type(model).__name__}",
                          expected="an xneuro.encoding model, e.g. GaussianPRF2D(...)",
                          fix="make one, e.g. xneuro.encoding.GaussianPRF2D(paradigm=stim)")
    return model


def check_frames(data: xr.DataArray, paradigm: xr.DataArray) -> None:
    """Raise if data and paradigm disagree on the frames (count, or seconds when both say)."""
    if data.sizes["time"] != paradigm.sizes["time"]:
        raise input_error(
            "data, paradigm", f"data has {data.sizes['time']} frames and paradigm has "
            f"{paradigm.sizes['time']}", cls=DimensionError,
            expected="one paradigm frame per data frame",
            fix="trim both to the shared frames, or check the paradigm's frame rate")
    if all(a["time"].attrs.get("units") == "s" for a in (data, paradigm)):
        schema.check_aligned(data, paradigm, "time", ("data", "paradigm"))


def predict(data: Any, model: EncodingModel, parameters: Any = None, paradigm: Any = None,
            weights: Any = None) -> xr.DataArray:
    """The model's prediction for the frames and voxels of ``data``, labeled like it.

    Parameters
    ----------
    data : DataArray, DataFrame or array
        ``(time, voxel)`` BOLD whose frames and voxels the prediction takes
        (its values are not used).
    model : EncodingModel
        The model; its stored paradigm and parameters are used when those
        arguments are None.
    parameters : DataFrame, Dataset, dict or array, optional
        Matched by name to ``model.parameter_labels``; one row per voxel of
        ``data`` (matched by voxel label when both carry the same labels,
        else by position), or one per population with ``weights``.
    paradigm : array-like, DataFrame or DataArray, optional
        The stimulus per frame; must have the frames of ``data``.
    weights : DataFrame, DataArray or array, optional
        ``(population, voxel)``, one column per voxel of ``data``.

    Returns
    -------
    xarray.DataArray
        ``(time, voxel)`` named ``prediction`` with the coords of ``data``;
        lazy when the parameters or weights are dask-backed.

    Raises
    ------
    DimensionError
        If the frames or voxels of data and prediction differ.
    InputError
        As :meth:`EncodingModel.predict`.
    """
    check_model(model)
    bold = schema.as_timeseries(data, argument="data")
    par = model._get_paradigm(paradigm)
    check_frames(bold, par.value)
    prediction = model.predict(paradigm=par.value, parameters=parameters, weights=weights)
    n_voxels = bold.sizes["voxel"]
    if prediction.sizes["voxel"] != n_voxels:
        source = "weights" if weights is not None or model.weights is not None else "parameters"
        raise input_error(f"{source}, data", f"give {prediction.sizes['voxel']} voxels for "
                          f"data with {n_voxels}", cls=DimensionError,
                          expected="one prediction per voxel of data",
                          fix=f"pass {source} for the voxels of data")
    if "voxel" in bold.indexes and "voxel" in prediction.indexes:
        mine, theirs = bold.indexes["voxel"], prediction.indexes["voxel"]
        if not mine.equals(theirs) and set(mine) == set(theirs):
            prediction = prediction.sel(voxel=mine)  # same labels, another order
        elif not mine.equals(theirs) and _labeled_source(model, parameters, weights):
            raise input_error(
                "parameters, data" if weights is None else "weights, data",
                f"have different voxel labels (first: {list(theirs[:3])} vs {list(mine[:3])})",
                cls=DimensionError, expected="the voxels of data, in any order",
                fix="select the parameters of data's voxels, e.g. "
                "parameters.sel(voxel=data.voxel)")
    prediction = prediction.drop_vars([c for c in prediction.coords if c != "time"])
    coords = {k: v for k, v in bold.coords.items() if "time" not in v.dims}
    out = prediction.assign_coords(coords).assign_coords(time=bold["time"])
    out.attrs = {k: v for k, v in bold.attrs.items() if k == "tr"}
    return out.rename("prediction").transpose("time", "voxel")




def _labeled_source(model: EncodingModel, parameters: Any, weights: Any) -> bool:
    """Whether the voxels of a prediction come from xarray labels (compared, not positional)."""
    if weights is not None:
        return isinstance(weights, xr.DataArray)
    if model._weights is not None:
        return model._weights.kind == "xarray"
    if parameters is not None:
        return isinstance(parameters, xr.Dataset | xr.DataArray)
    return model._parameters is not None and model._parameters.kind == "xarray"
