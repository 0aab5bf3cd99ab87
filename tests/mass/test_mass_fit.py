"""Gradient fitting through the simulation recovers known global parameters."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

from xneuro import mass
from xneuro.core.errors import InputError


def test_fit_recovers_coupling_and_bifurcation_parameter():
    rng = np.random.default_rng(0)
    n = 6
    W = rng.uniform(0, 1, (n, n))
    np.fill_diagonal(W, 0)
    W /= W.sum(1, keepdims=True)
    model = mass.Hopf(a=-0.5, omega=0.3, time_unit="s")
    kw = {"duration": 60.0, "dt": 0.05, "sample_every": 0.05, "noise": mass.GaussianNoise(sigma=0.2),
              "seed": 0}
    target = mass.fc(mass.simulate(W, model, coupling=mass.Diffusive(k=0.8), **kw).x)
    result = mass.fit(W, model, target, {"k": 0.3, "a": -0.8}, steps=70, learning_rate=0.03,
                      coupling=mass.Diffusive(), bounds={"k": (0.0, 3.0)}, **kw)
    assert result.params["k"] == pytest.approx(0.8, abs=0.06)
    assert result.params["a"] == pytest.approx(-0.5, abs=0.06)
    assert result.loss < 1e-3 < result.history.loss.values[0]
    assert result.history.k.dims == ("iteration",)


def test_fit_bad_input():
    W = np.ones((3, 3))
    with pytest.raises(InputError, match="params"):
        mass.fit(W, mass.Hopf(), np.eye(3), {}, duration=0.01)
    with pytest.raises(InputError, match=r"target_fc: has shape \(2, 2\)"):
        mass.fit(W, mass.Hopf(), np.eye(2), {"k": 0.1}, duration=0.01, dt=1e-4)
    with pytest.raises(InputError, match="not a parameter"):
        mass.fit(W, mass.Hopf(), np.eye(3), {"kk": 0.1}, duration=0.01, dt=1e-4)
