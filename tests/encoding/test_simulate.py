"""simulate: seeds, the R² ceiling of the true model, covariances, Student-t noise, layouts."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import GaussianPRF

STIM = np.random.default_rng(0).uniform(-5, 5, 400)
PARS = pd.DataFrame({"mu": [-2.0, 0.0, 2.0], "sd": [1.0, 1.5, 2.0], "amplitude": [1.0, 2.0, 3.0],
                     "baseline": [0.0, 0.0, 1.0]})
MODEL = GaussianPRF(paradigm=STIM, parameters=PARS)


def test_seed_makes_it_reproducible():
    a = MODEL.simulate(noise=0.5, seed=3)
    pd.testing.assert_frame_equal(a, MODEL.simulate(noise=0.5, seed=3))
    assert not np.allclose(a.to_numpy(), MODEL.simulate(noise=0.5, seed=4).to_numpy())
    assert a.index.name == "stimulus"


def test_true_model_recovers_the_r2_ceiling():
    noise = 0.5
    pred = MODEL.predict().to_numpy()
    sim = MODEL.simulate(noise=noise, n_repeats=10, seed=0).to_numpy().reshape(10, 400, 3)
    resid = sim - pred[None]
    r2 = 1 - (resid**2).sum(1) / ((sim - sim.mean(1, keepdims=True)) ** 2).sum(1)
    ceiling = pred.var(0) / (pred.var(0) + noise**2)
    np.testing.assert_allclose(r2.mean(0), ceiling, atol=0.02)
    assert resid.std() == pytest.approx(noise, rel=0.02)


def test_covariance_matches_empirically():
    cov = np.array([[1.0, 0.6, -0.3], [0.6, 2.0, 0.2], [-0.3, 0.2, 0.5]])
    sim = MODEL.simulate(noise=cov, n_repeats=50, seed=1)
    assert sim.index.names == ["repeat", "stimulus"] and len(sim) == 50 * 400
    resid = sim.to_numpy() - np.tile(MODEL.predict().to_numpy(), (50, 1))
    # 20000 draws: the standard error of each entry is at most 2 * sqrt(2 / 20000) = 0.02
    np.testing.assert_allclose(np.cov(resid.T), cov, atol=0.07)


def test_student_t_noise_has_the_t_variance_and_heavy_tails():
    dof = 5.0
    sim = MODEL.simulate(noise=0.5, dof=dof, n_repeats=25, seed=2)
    resid = sim.to_numpy() - np.tile(MODEL.predict().to_numpy(), (25, 1))
    assert resid.var() == pytest.approx(0.25 * dof / (dof - 2), rel=0.1)
    kurtosis = ((resid - resid.mean()) ** 4).mean() / resid.var() ** 2 - 3
    assert kurtosis > 2  # a Gaussian has 0; t(5) has 6
    cov = np.diag([1.0, 1.0, 1.0])
    multi = MODEL.simulate(noise=cov, dof=dof, n_repeats=25, seed=2).to_numpy()
    resid = multi - np.tile(MODEL.predict().to_numpy(), (25, 1))
    assert resid.var() == pytest.approx(dof / (dof - 2), rel=0.1)


def test_xarray_layout_with_repeats():
    pars = xr.Dataset.from_dataframe(PARS.rename_axis("voxel"))
    sim = MODEL.simulate(parameters=pars, noise=0.1, n_repeats=2, seed=0)
    assert sim.dims == ("repeat", "time", "voxel") and sim.name == "simulated"
    one = MODEL.simulate(parameters=pars, noise=np.array([0.1, 0.2, 0.0]), seed=0)
    assert one.dims == ("time", "voxel")
    np.testing.assert_allclose(one.isel(voxel=2).values, MODEL.predict().to_numpy()[:, 2])


@pytest.mark.parametrize(("kwargs", "match", "cls"), [
    ({"noise": -1.0}, "noise: has negative sds", InputError),
    ({"noise": np.eye(2)}, r"noise: is a \(2, 2\) matrix for 3 voxels", DimensionError),
    ({"noise": np.array([[1, 2, 0], [2, 1, 0], [0, 0, 1.0]])}, "noise: has a negative eigenvalue",
     InputError),
    ({"noise": np.array([[1, 0.5, 0], [0, 1, 0], [0, 0, 1.0]])}, "noise: is not symmetric",
     InputError),
    ({"dof": 0}, "dof: is 0", InputError),
    ({"n_repeats": 0}, "n_repeats: is 0", InputError),
    ({"seed": "a"}, "seed: is a str", InputError),
])
def test_bad_simulate_input(kwargs, match, cls):
    with pytest.raises(cls, match=match):
        MODEL.simulate(**kwargs)
