"""Single steps pinned to hand-computed values, and the models' known dynamics."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("jax")

from xneuro import mass
from xneuro.core.errors import InputError


def S(v, vmax=5.0, v0=6.0, r=0.56):
    return vmax / (1 + np.exp(r * (v0 - v)))


def logistic(x):
    return 1 / (1 + np.exp(-x))


# (model, state, input, dt, expected state after one Euler step, by hand)
CASES = [
    (mass.Hopf(a=0.25, omega=0.2), {"x": 0.5, "y": -0.2}, 0.1, 0.1,
     # r2 = 0.29; growth = 0.25 - 0.29 = -0.04
     {"x": 0.5 + 0.1 * (-0.04 * 0.5 - 0.2 * -0.2 + 0.1),
      "y": -0.2 + 0.1 * (-0.04 * -0.2 + 0.2 * 0.5)}),
    (mass.FitzHughNagumo(), {"V": 0.5, "w": 0.1}, 0.2, 0.1,
     {"V": 0.5 + 0.1 * (-3 * 0.125 + 4 * 0.25 - 1.5 * 0.5 - 0.1 + 0.2),
      "w": 0.1 + 0.1 * (0.5 - 0.0 - 0.5 * 0.1) / 20}),
    (mass.Kuramoto(omega=0.3), {"theta": 1.0}, 0.05, 0.1, {"theta": 1.0 + 0.1 * 0.35}),
    (mass.Linear(gamma=-2.0, c=0.5), {"x": 1.0}, 0.25, 0.1, {"x": 1.0 + 0.1 * (-2 + 0.5 + 0.25)}),
    (mass.WilsonCowan(), {"rE": 0.2, "rI": 0.1}, 0.3, 0.1, {
        "rE": 0.2 + 0.1 * (-0.2 + 0.8 * (logistic(1.2 * (12 * 0.2 - 4 * 0.1 + 0.3 - 2.8))
                                         - logistic(-1.2 * 2.8))),
        "rI": 0.1 + 0.1 * (-0.1 + 0.9 * (logistic(1.0 * (13 * 0.2 - 11 * 0.1 - 4.0))
                                         - logistic(-4.0)))}),
    (mass.MontbrioPazoRoxin(), {"r": 0.1, "v": -2.0}, 0.5, 0.01, {
        "r": 0.1 + 0.01 * (1 / np.pi + 2 * 0.1 * -2.0),
        "v": -2.0 + 0.01 * (4.0 - 5.0 + 15 * 0.1 - (np.pi * 0.1) ** 2 + 0.5)}),
]


@pytest.mark.parametrize("model, state, inp, dt, expected", CASES,
                         ids=[c[0].name for c in CASES])
def test_one_euler_step_by_hand(model, state, inp, dt, expected):
    out = model.step(state, inp, dt)
    for key, value in expected.items():
        assert float(out[key]) == pytest.approx(value, rel=1e-5, abs=1e-7)


def test_jansen_rit_one_euler_step_by_hand():
    model = mass.JansenRit()
    st = {"M": 0.1, "E": 20.0, "I": 12.0, "Mv": 1.0, "Ev": -2.0, "Iv": 0.5}
    dt = 1e-4
    out = model.step(st, 10.0, dt)
    accel_m = 3.25 * 100 * S(8.0) - 200 * 1.0 - 1e4 * 0.1
    accel_e = 3.25 * 100 * (220 + 10 + 135 * 0.8 * S(135 * 0.1)) - 200 * -2.0 - 1e4 * 20.0
    accel_i = 22 * 50 * 135 * 0.25 * S(135 * 0.25 * 0.1) - 100 * 0.5 - 2500 * 12.0
    assert float(out["M"]) == pytest.approx(0.1 + dt * 1.0)
    assert float(out["Mv"]) == pytest.approx(1.0 + dt * accel_m, rel=1e-5)
    assert float(out["Ev"]) == pytest.approx(-2.0 + dt * accel_e, rel=1e-5)
    assert float(out["Iv"]) == pytest.approx(0.5 + dt * accel_i, rel=1e-5)


def test_reduced_wong_wang_one_step_by_hand():
    model = mass.ReducedWongWang()
    x = 0.9 * 0.2609 * 0.2 + 0.3 + 0.2609 * 0.1
    u = 270 * x - 108
    H = u / (1 - np.exp(-0.154 * u))
    out = model.step({"S": 0.2}, 0.1, 1e-3)
    assert float(out["S"]) == pytest.approx(0.2 + 1e-3 * (-0.2 / 0.1 + 0.8 * 0.641 * H), rel=1e-5)


def _uncoupled(n):
    return np.zeros((n, n))


@pytest.mark.parametrize("a", [0.04, 0.25])
def test_hopf_limit_cycle_radius_sqrt_a(a):
    sim = mass.simulate(_uncoupled(3), mass.Hopf(a=a, omega=0.2), duration=0.3, dt=1e-4,
                        sample_every=1e-3, transient=0.3, initial={"x": [0.01, 0.5, 1.2]},
                        coupling=mass.Diffusive(k=0.0), integrator="rk4")
    radius = np.sqrt(sim.x**2 + sim.y**2)
    np.testing.assert_allclose(radius.values, np.sqrt(a), rtol=1e-3)


def test_hopf_fixed_point_for_negative_a():
    sim = mass.simulate(_uncoupled(2), mass.Hopf(a=-0.2), duration=0.2, dt=1e-4,
                        sample_every=1e-3, transient=0.2, initial={"x": [0.3, -0.6]})
    assert float(np.abs(sim.x).max()) < 1e-6
    assert float(np.abs(sim.y).max()) < 1e-6


def test_jansen_rit_alpha_oscillation():
    sim = mass.simulate(_uncoupled(1), mass.JansenRit(), duration=4.0, dt=1e-4,
                        sample_every=1e-3, transient=1.0, variables=["E", "I"])
    eeg = (sim.E - sim.I).isel(region=0).values
    assert eeg.std() > 1.0  # a limit cycle, not a fixed point
    freqs = np.fft.rfftfreq(eeg.size, 1e-3)
    peak = freqs[np.argmax(np.abs(np.fft.rfft(eeg - eeg.mean())) ** 2)]
    assert 8.0 <= peak <= 13.0


def test_model_parameter_errors():
    with pytest.raises(InputError, match=r"\['alpha'\] are not parameters of HopfStep"):
        mass.Hopf(alpha=1.0)
    with pytest.raises(InputError, match="NaN"):
        mass.Hopf(a=np.array([0.1, np.nan]))
    omega = xr.DataArray([0.3, 0.4], dims="region", attrs={"units": "rad/s"})
    with pytest.raises(InputError, match="time_unit='s'"):
        mass.Hopf(omega=omega)
    assert mass.Hopf(omega=omega, time_unit="s").resolve(2)["omega"].tolist() == [0.3, 0.4]
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        mass.Hopf(a=[0.1, 0.2, 0.3]).resolve(2)
    with pytest.raises(InputError, match="time_unit"):
        mass.Hopf(time_unit="min")
    # initializer callables give per-region values
    assert mass.Hopf(a=lambda shape: np.full(shape, 0.5)).resolve(3)["a"].tolist() == [0.5] * 3
