"""Network simulation: delays, noise, integrators, labels, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("jax")

from xneuro import mass
from xneuro.core.errors import DimensionError, InputError


@pytest.fixture
def conn(rng):
    n = 6
    W = rng.uniform(0, 1, (n, n))
    np.fill_diagonal(W, 0)
    lengths = rng.uniform(5, 60, (n, n))
    lengths = (lengths + lengths.T) / 2
    names = [f"r{i}" for i in range(n)]
    return xr.Dataset(
        {"weights": (("region", "region_"), W / W.sum(1).mean()),
         "lengths": (("region", "region_"), lengths, {"units": "mm"})},
        coords={"region": names, "region_": names},
    )


def test_labels_and_attrs(conn):
    sim = mass.simulate(conn, mass.Hopf(), duration=0.05, dt=1e-4, sample_every=1e-3)
    assert sim.x.dims == ("time", "region")
    assert list(sim.region.values) == list(conn.region.values)
    np.testing.assert_allclose(sim.time.values, np.arange(1, 51) * 1e-3)
    assert sim.x.dtype == np.float32 and sim.attrs["model"] == "HopfStep"
    assert sim.attrs["xneuro_function"] == "xneuro.mass.simulate"
    sim64 = mass.simulate(conn, mass.Hopf(), duration=0.05, dt=1e-4, dtype="float64")
    assert sim64.x.dtype == np.float64
    np.testing.assert_allclose(sim64.x, sim.x, rtol=1e-4, atol=1e-6)


def test_delays_shift_a_pulse_by_the_right_number_of_steps():
    # Node 0 ramps (x0 = c t); node 1 integrates k * x0(t - D). With a delay of D steps,
    # node 1's trajectory is the undelayed one shifted by exactly D steps.
    W = np.array([[0.0, 0.0], [1.0, 0.0]])
    model = mass.Linear(gamma=0.0, c=[1.0, 0.0])
    kwargs = {"duration": 0.01, "dt": 1e-4, "sample_every": 1e-4, "initial": {"x": 0.0},
                  "coupling": mass.Additive(k=1.0)}
    ref = mass.simulate(W, model, **kwargs).x.values[:, 1]
    D = 7
    delays = np.array([[0.0, 0.0], [D * 1e-4, 0.0]])
    out = mass.simulate(W, model, delays=delays, **kwargs).x.values[:, 1]
    np.testing.assert_allclose(out[D:], ref[:-D], rtol=1e-5, atol=1e-9)
    assert np.all(out[:D] == 0)


def test_delays_from_tract_lengths(conn):
    sim = mass.simulate(conn, mass.Hopf(), duration=0.02, dt=1e-4, delays=True, speed=5.0)
    used = np.where(conn.weights.values != 0, conn.lengths.values, 0.0)  # no delay without a link
    longest = np.rint(used * 1e-3 / 5.0 / 1e-4).max() * 1e-4
    assert sim.attrs["max_delay"] == pytest.approx(longest)


@pytest.mark.parametrize("integrator, tol", [("euler", 1.2e-2), ("heun", 2.5e-4), ("rk4", 1e-6)])
def test_integrators_against_the_exact_linear_solution(integrator, tol):
    sim = mass.simulate(np.zeros((1, 1)), mass.Linear(gamma=-0.5), duration=0.01, dt=1e-4,
                        sample_every=1e-3, initial={"x": 1.0}, integrator=integrator,
                        dtype="float64")
    exact = np.exp(-0.5 * sim.time.values * 1e3)
    assert np.max(np.abs(sim.x.values[:, 0] - exact)) < tol


def test_gaussian_noise_scales_with_sqrt_dt():
    # dx = -theta x dt + sigma dW has stationary variance sigma^2 / (2 theta), whatever dt.
    theta, sigma = 0.2, 0.2  # 1/ms; Euler's variance bias is theta*dt/2 <= 4%
    variances = []
    for dt in (1e-4, 4e-4):  # same steps per sample and samples: one compiled program
        sim = mass.simulate(np.zeros((20, 20)), mass.Linear(gamma=-theta), duration=300 * dt * 40,
                            dt=dt, sample_every=40 * dt, transient=0.0,
                            noise=mass.GaussianNoise(sigma=sigma), seed=1)
        variances.append(float(sim.x.var()))
    np.testing.assert_allclose(variances, sigma**2 / (2 * theta), rtol=0.1)


def test_ou_noise_has_its_stationary_std():
    # A fast linear node follows the OU input: x ~ eta / |gamma|.
    sim = mass.simulate(np.zeros((30, 30)), mass.Linear(gamma=-5.0), duration=3.0, dt=1e-4,
                        sample_every=1e-3, transient=0.05,
                        noise=mass.OUNoise(sigma=0.5, tau=0.05), seed=3)
    assert float(sim.x.std()) == pytest.approx(0.5 / 5.0, rel=0.1)


def test_noise_differs_across_sweep_points_and_is_seeded(conn):
    kw = {"duration": 0.05, "dt": 1e-4, "noise": mass.GaussianNoise(sigma=0.05),
              "sweep": {"k": [0.0, 1e-9]}}
    a = mass.simulate(conn, mass.Hopf(a=-0.1), seed=4, **kw)
    b = mass.simulate(conn, mass.Hopf(a=-0.1), seed=4, **kw)
    xr.testing.assert_equal(a.x, b.x)
    assert float(np.abs(a.x.isel(k=0) - a.x.isel(k=1)).max()) > 1e-3


def test_sweep_over_model_coupling_and_noise_parameters(conn):
    sim = mass.simulate(conn, mass.Hopf(a=-0.05), duration=0.02, dt=1e-4,
                        noise=mass.OUNoise(sigma=0.0), sweep={"k": [0.0, 0.5], "omega": [0.1, 0.3],
                                                              "noise.sigma": [0.0]})
    assert sim.x.dims == ("time", "region", "k", "omega", "noise.sigma")
    assert sim.x.shape == (20, 6, 2, 2, 1)


@pytest.mark.parametrize(
    "sweep, match",
    [({"kk": [1.0]}, "is not a parameter of the model, coupling or noise"),
     ({"tau": [1.0]}, r"is a parameter of \['model', 'noise'\]"),
     ({"model.k": [1.0]}, "names no parameter"),
     ({"k": [[1.0, 2.0]]}, "1-D"),
     ({"k": [1.0, 1.0]}, "repeated")],
)
def test_bad_sweeps(conn, sweep, match):
    with pytest.raises(InputError, match=match):
        mass.simulate(conn, mass.MontbrioPazoRoxin(), duration=0.01, dt=1e-5,
                      noise=mass.OUNoise(), sweep=sweep)


def test_bad_connectivity():
    with pytest.raises(DimensionError, match="square"):
        mass.simulate(np.ones((3, 4)), mass.Hopf(), duration=0.01)
    W = np.ones((3, 3))
    W[0, 1] = -0.5
    with pytest.raises(InputError, match=r"negative entries \(e.g. \[0, 1\] = -0.5\)"):
        mass.simulate(W, mass.Hopf(), duration=0.01)
    with pytest.raises(InputError, match="NaN"):
        mass.simulate(np.full((2, 2), np.nan), mass.Hopf(), duration=0.01)


def test_delay_longer_than_the_simulation(conn):
    with pytest.raises(InputError, match=r"longest delay .* is not shorter than the simulation"):
        mass.simulate(conn, mass.Hopf(), duration=0.005, dt=1e-4, delays=True, speed=1.0)
    with pytest.raises(InputError, match="no 'lengths'"):
        mass.simulate(conn.drop_vars("lengths"), mass.Hopf(), duration=0.01, delays=True)


def test_dt_above_the_stability_bound(conn):
    with pytest.raises(InputError, match=r"dt: 0.02 s is above the stability bound .* expected "
                                         r"dt <= 0.00\d+ s"):
        mass.simulate(conn, mass.JansenRit(), duration=1.0, dt=0.02, sample_every=0.02)


def test_nan_in_the_initial_state_and_divergence(conn):
    with pytest.raises(InputError, match=r"initial\['x'\]: has NaN"):
        mass.simulate(conn, mass.Hopf(), duration=0.01, initial={"x": np.nan})
    with pytest.raises(mass.DivergenceError, match=r"state 'r': became NaN/inf at t=.* k=5"):
        mass.simulate(conn, mass.MontbrioPazoRoxin(eta=50.0), duration=0.05, dt=1e-4,
                      sweep={"k": [5.0]}, check_stability=False, coupling=mass.Additive())


def test_other_bad_arguments(conn):
    with pytest.raises(InputError, match="not a whole number of steps"):
        mass.simulate(conn, mass.Hopf(), duration=0.01, dt=1e-4, sample_every=2.5e-4)
    with pytest.raises(InputError, match="instantiate the class"):
        mass.simulate(conn, mass.Hopf, duration=0.01)
    with pytest.raises(InputError, match="variables"):
        mass.simulate(conn, mass.Hopf(), duration=0.01, variables=["z"])
    with pytest.raises(InputError, match="integrator"):
        mass.simulate(conn, mass.Hopf(), duration=0.01, integrator="leapfrog")
    with pytest.raises(InputError, match="'weights'"):
        mass.simulate(conn.rename(weights="w"), mass.Hopf(), duration=0.01)


@pytest.mark.parametrize("name", ["simulate", "fit"])
def test_accessor_matches_function(conn, name):
    model = mass.Hopf(a=-0.05, omega=0.05)
    if name == "simulate":
        a = conn.mass.simulate(model, 0.02, 1e-4, sweep={"k": [0.1, 0.2]})
        b = mass.simulate(conn, model, 0.02, 1e-4, sweep={"k": [0.1, 0.2]})
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
        xr.testing.assert_identical(a.mass.bold(tr=0.01), mass.bold(b, tr=0.01))
    else:
        target = np.corrcoef(np.random.default_rng(0).normal(size=(6, 50)))
        kw = {"duration": 0.02, "dt": 1e-4, "steps": 2, "noise": mass.GaussianNoise(sigma=0.01)}
        a = conn.mass.fit(model, target, {"k": 0.3}, **kw)
        b = mass.fit(conn, model, target, {"k": 0.3}, **kw)
        assert a.params == b.params and a.loss == b.loss
