"""Accessor twins: bold.encode.predict / fit_weights agree with their plain functions."""

import numpy as np
import pytest
import xarray as xr

import xneuro
from xneuro.core.errors import DimensionError
from xneuro.encoding import GaussianPRF2D, fit_weights, predict
from xneuro.hrf import SPMHRFModel

SAMPLE = xneuro.datasets.sample_bold(n_voxels=12, n_pixels=8, seed=1)
PARS = xr.Dataset({name: SAMPLE[f"true_{name}"] for name in
                   ("x", "y", "sd", "baseline", "amplitude")})
MODEL = GaussianPRF2D(paradigm=SAMPLE["paradigm"], hrf_model=SPMHRFModel(tr=1.5))


@pytest.mark.parametrize("use_accessor", [True, False])
def test_encode_predict_twin(use_accessor):
    bold = SAMPLE["bold"]
    out = bold.encode.predict(MODEL, parameters=PARS) if use_accessor else predict(
        bold, MODEL, parameters=PARS)
    assert out.dims == ("time", "voxel") and out.name == "prediction"
    assert list(out["roi"].values) == list(bold["roi"].values)
    np.testing.assert_allclose(out.values, MODEL.predict(parameters=PARS).values)
    assert np.corrcoef(out.values.ravel(), bold.values.ravel())[0, 1] > 0.8


@pytest.mark.parametrize("use_accessor", [True, False])
def test_encode_fit_weights_twin(use_accessor):
    bold = SAMPLE["bold"].chunk({"voxel": 5})
    pops = PARS.isel(voxel=slice(0, 4))
    out = bold.encode.fit_weights(MODEL, parameters=pops, alpha=0.1) if use_accessor else \
        fit_weights(bold, MODEL, parameters=pops, alpha=0.1)
    assert out["weights"].dims == ("population", "voxel") and out["r2"].dims == ("voxel",)
    basis = MODEL.predict(parameters=pops).values.astype(float)
    expected = np.linalg.solve(basis.T @ basis + 0.1 * np.eye(4), basis.T @ bold.values)
    np.testing.assert_allclose(out["weights"].values, expected, rtol=2e-3, atol=1e-4)


def test_predict_matches_voxels_by_label_and_checks_frames():
    bold = SAMPLE["bold"]
    shuffled = PARS.isel(voxel=np.arange(12)[::-1])
    np.testing.assert_allclose(bold.encode.predict(MODEL, parameters=shuffled).values,
                               bold.encode.predict(MODEL, parameters=PARS).values)
    with pytest.raises(DimensionError, match=r"data, paradigm: data has 100 frames and paradigm "
                       r"has 200"):
        bold.isel(time=slice(0, 100)).encode.predict(MODEL, parameters=PARS)
    with pytest.raises(DimensionError, match=r"parameters, data: give 4 voxels for data with 12"):
        bold.encode.predict(MODEL, parameters=PARS.isel(voxel=slice(0, 4)))
    with pytest.raises(DimensionError, match=r"parameters, data: have different voxel labels"):
        bold.encode.predict(MODEL, parameters=PARS.assign_coords(voxel=PARS.voxel + 100))
    positional = PARS.to_dataframe()[list(PARS.data_vars)].to_numpy()  # by position
    np.testing.assert_allclose(bold.encode.predict(MODEL, parameters=positional).values,
                               bold.encode.predict(MODEL, parameters=PARS).values)


def test_encode_predict_stays_lazy(no_compute):
    bold = SAMPLE["bold"].chunk({"voxel": 4})
    out = bold.encode.predict(MODEL, parameters=PARS.chunk({"voxel": 4}))
    assert out.chunks is not None and out.chunksizes["voxel"] == (4, 4, 4)


def test_the_issue_example_runs():
    from xneuro.encoding import GaussianPRF2D as Model2D
    from xneuro.hrf import spm_hrf

    stim = SAMPLE["paradigm"]
    gy, gx = np.meshgrid(stim["y"].values, stim["x"].values, indexing="ij")
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    model = Model2D(grid_coordinates=grid, paradigm=stim, hrf_model=SPMHRFModel(tr=1.5))
    pred = model.predict(parameters=PARS)
    sim = model.simulate(parameters=PARS, noise=0.5, n_repeats=3, seed=0)
    assert pred.dims == ("time", "voxel") and sim.dims == ("repeat", "time", "voxel")
    np.testing.assert_allclose(SAMPLE["bold"].encode.predict(model, parameters=PARS).values,
                               pred.values)
    assert spm_hrf(np.arange(0, 32, 1.5)).shape == (22,)
