"""Linear models: X @ W + baseline, convolved for the HRF variant."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import LinearModel, LinearModelWithBaseline, LinearModelWithBaselineHRF
from xneuro.hrf import SPMHRFModel

RNG = np.random.default_rng(7)
X = RNG.normal(size=(50, 3))
W = RNG.normal(size=(3, 4))
B = np.array([0.0, 1.0, -2.0, 0.5])


def test_linear_models(float64, ref):
    np.testing.assert_allclose(LinearModel(paradigm=X).predict(weights=W).to_numpy(), X @ W,
                               rtol=1e-12)
    pred = LinearModelWithBaseline(paradigm=X).predict(parameters=B[:, None], weights=W)
    np.testing.assert_allclose(pred.to_numpy(), X @ W + B, rtol=1e-12)
    assert pred.columns.name == "unit"  # braincoder's weights columns
    hrf = SPMHRFModel(tr=2.0)
    model = LinearModelWithBaselineHRF(paradigm=X, hrf_model=hrf)
    expected = ref.convolve(X @ W, hrf.get_hrf()) + B
    np.testing.assert_allclose(model.predict(parameters=B[:, None], weights=W).to_numpy(),
                               expected, rtol=1e-10)
    # the baseline after the convolution equals convolving with it (sum-1 kernel, edge padding)
    np.testing.assert_allclose(expected, ref.convolve(X @ W + B, hrf.get_hrf()), rtol=1e-10)


def test_labeled_weights_and_lazy_baseline(float64, no_compute):
    weights = xr.DataArray(W, dims=("feature", "voxel"), coords={"voxel": list("abcd")})
    baseline = xr.Dataset({"baseline": ("voxel", B)}, coords={"voxel": list("abcd")}).chunk(
        {"voxel": 2})
    pred = LinearModelWithBaseline(paradigm=X).predict(parameters=baseline, weights=weights)
    assert pred.chunks is not None and list(pred["voxel"].values) == list("abcd")


def test_labeled_weights_values(float64):
    weights = xr.DataArray(W, dims=("feature", "voxel"), coords={"voxel": list("abcd")})
    baseline = xr.Dataset({"baseline": ("voxel", B)}, coords={"voxel": list("abcd")}).chunk(
        {"voxel": 2})
    pred = LinearModelWithBaseline(paradigm=X).predict(parameters=baseline, weights=weights)
    np.testing.assert_allclose(pred.values, X @ W + B, rtol=1e-12)


def test_bad_input():
    with pytest.raises(InputError, match=r"parameters: were given to LinearModel"):
        LinearModel(parameters=np.zeros((2, 1)))
    model = LinearModelWithBaseline(paradigm=X)
    with pytest.raises(InputError, match=r"weights: were not given"):
        model.predict(parameters=B[:, None])
    with pytest.raises(DimensionError, match=r"weights: has 2 rows for a paradigm of 3 features"):
        model.predict(parameters=B[:, None], weights=W[:2])
    with pytest.raises(DimensionError, match=r"parameters, weights: have 3 and 4 voxels"):
        model.predict(parameters=B[:3, None], weights=W)
    with pytest.raises(InputError, match=r"parameters: lacks \['baseline'\]; has unknown names"):
        model.predict(parameters=pd.DataFrame({"offset": B}), weights=W)
