"""Inputs and outputs: numpy/pandas/xarray in and out, names, laziness, weights, bad input."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import GaussianPRF, GaussianPRF2D, GaussianPRFWithHRF
from xneuro.hrf import SPMHRFModel

STIM = np.linspace(-4, 4, 30)
PARS = pd.DataFrame({"mu": [0.0, 1.0, -1.0], "sd": [1.0, 0.5, 2.0], "amplitude": [1.0, 2.0, 1.5],
                     "baseline": [0.0, 0.5, -0.5]}, index=pd.Index([10, 11, 12], name="unit"))


def _gauss(stim, pars):
    return np.exp(-0.5 * (stim[:, None] - pars.mu.to_numpy()) ** 2 / pars.sd.to_numpy() ** 2) \
        * pars.amplitude.to_numpy() + pars.baseline.to_numpy()


def test_pandas_in_pandas_out_with_the_given_indexes():
    paradigm = pd.DataFrame({"x": STIM}, index=pd.Index(np.arange(30) * 2.0, name="time"))
    pred = GaussianPRF(paradigm=paradigm).predict(parameters=PARS)
    assert isinstance(pred, pd.DataFrame)
    pd.testing.assert_index_equal(pred.index, paradigm.index)
    pd.testing.assert_index_equal(pred.columns, PARS.index)
    np.testing.assert_allclose(pred.to_numpy(), _gauss(STIM, PARS), rtol=1e-5, atol=1e-6)


def test_numpy_in_gives_braincoder_frames():
    pred = GaussianPRF(paradigm=STIM).predict(parameters=PARS.to_numpy())
    assert pred.index.name == "frame" and pred.columns.name == "source"
    assert list(pred.columns) == [0, 1, 2]


def test_xarray_in_xarray_out():
    pars = xr.Dataset.from_dataframe(PARS.rename_axis("voxel"))
    pars["r2"] = ("voxel", [0.1, 0.2, 0.3])  # a fitted result: r2 is not a parameter
    pred = GaussianPRF(paradigm=STIM).predict(parameters=pars)
    assert isinstance(pred, xr.DataArray) and pred.dims == ("time", "voxel")
    assert list(pred["voxel"].values) == [10, 11, 12]
    np.testing.assert_allclose(pred.values, _gauss(STIM, PARS), rtol=1e-5, atol=1e-6)


def test_parameters_are_matched_by_name():
    model = GaussianPRF(paradigm=STIM)
    shuffled = PARS[["baseline", "sd", "amplitude", "mu"]]
    np.testing.assert_allclose(model.predict(parameters=shuffled).to_numpy(),
                               model.predict(parameters=PARS).to_numpy())
    as_dict = {k: PARS[k].to_numpy() for k in reversed(PARS.columns)}
    np.testing.assert_allclose(model.predict(parameters=as_dict).to_numpy(),
                               model.predict(parameters=PARS).to_numpy())


def test_dask_parameters_stay_lazy(no_compute):
    pars = xr.Dataset.from_dataframe(PARS.rename_axis("voxel")).chunk({"voxel": 2})
    model = GaussianPRFWithHRF(paradigm=STIM, hrf_model=SPMHRFModel(tr=1.0, time_length=20))
    pred = model.predict(parameters=pars)
    assert pred.chunks is not None and pred.chunksizes["voxel"] == (2, 1)


def test_dask_parameters_values_and_lazy_errors():
    pars = xr.Dataset.from_dataframe(PARS.rename_axis("voxel")).chunk({"voxel": 2})
    model = GaussianPRF(paradigm=STIM)
    np.testing.assert_allclose(model.predict(parameters=pars).values, _gauss(STIM, PARS),
                               rtol=1e-5, atol=1e-6)
    bad = pars.copy()
    bad["sd"] = bad["sd"].where(bad["voxel"] != 11)  # a NaN, found when computed
    lazy = model.predict(parameters=bad)
    with pytest.raises(InputError, match=r"parameters\['sd'\]: contains 1 NaN"):
        lazy.compute()


def test_weights_mix_the_populations():
    weights = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 2.0]])
    pred = GaussianPRF(paradigm=STIM).predict(parameters=PARS, weights=weights)
    np.testing.assert_allclose(pred.to_numpy(), _gauss(STIM, PARS) @ weights, rtol=1e-5, atol=1e-6)
    assert pred.columns.name == "unit"
    with pytest.raises(DimensionError, match=r"weights: has 2 populations"):
        GaussianPRF(paradigm=STIM).predict(parameters=PARS, weights=weights[:2])


def test_stored_inputs_and_properties():
    model = GaussianPRF(paradigm=STIM, parameters=PARS)
    np.testing.assert_allclose(model.predict().to_numpy(), _gauss(STIM, PARS), rtol=1e-5, atol=1e-6)
    pd.testing.assert_frame_equal(model.parameters, PARS)
    assert model.get_paradigm().shape == (30, 1)
    assert model.paradigm_array().dtype == np.float32
    with pytest.raises(InputError, match=r"paradigm: was not given, and the model holds none"):
        GaussianPRF().predict(parameters=PARS)
    with pytest.raises(InputError, match=r"parameters: were not given"):
        GaussianPRF(paradigm=STIM).predict()


@pytest.mark.parametrize(("parameters", "match"), [
    (PARS.drop(columns="sd"), r"parameters: lacks \['sd'\]; expected GaussianPRF's parameters"),
    (PARS.assign(kappa=1.0), r"parameters: has unknown names \['kappa'\].*fix: drop them"),
    (PARS.assign(sd=[1.0, np.nan, 1.0]), r"parameters\['sd'\]: contains 1 NaN .*\(first: 11\)"),
    (PARS.assign(sd=[1.0, -1.0, 1.0]), r"parameters\['sd'\]: has 1 values outside \[0, inf\]"),
    (np.zeros((3, 5)), r"parameters: has shape \(3, 5\); expected \(voxel, 4\) columns in "
                       r"GaussianPRF's order \['mu', 'sd', 'amplitude', 'baseline'\]"),
])
def test_bad_parameters(parameters, match):
    with pytest.raises(InputError, match=match):
        GaussianPRF(paradigm=STIM).predict(parameters=parameters)


def test_bad_paradigm_for_the_model():
    with pytest.raises(DimensionError, match=r"paradigm: has stimulus dims"):
        GaussianPRF(paradigm=np.zeros((30, 4, 4)))
    with pytest.raises(DimensionError, match=r"paradigm: has dims"):
        GaussianPRF2D(paradigm=np.zeros((30, 7)))
    with pytest.raises(InputError, match=r"paradigm time: has steps of 2 s .* but tr=1.5"):
        GaussianPRFWithHRF(paradigm=pd.Series(STIM, index=np.arange(30) * 2.0),
                           hrf_model=SPMHRFModel(tr=1.5))
