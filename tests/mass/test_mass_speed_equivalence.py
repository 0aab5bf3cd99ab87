"""The fast simulation loop (one stacked state block, steps taken in pairs) against the formulas.

The kernel carries all states as one ``(states, region, point)`` block and runs
the integration steps of each output sample in pairs (plus one step when the
count is odd). These tests pin it to hand-written references: the Jansen-Rit
network equations of the reference notes (brainmass's ``JansenRitStep`` with
plain Euler), the order in which the noise draws are used, the delay ring
buffer across pairs, and sampling every 1, 2 or 3 steps.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from xneuro import mass
from xneuro.mass.random import normal, point_key

DT = 1e-4  # s
JR = {"A_e": 3.25, "A_i": 22.0, "b_e": 100.0, "b_i": 50.0, "C": 135.0, "a1": 1.0, "a2": 0.8,
      "a3": 0.25, "a4": 0.25, "s_max": 5.0, "v0": 6.0, "r": 0.56, "p": 220.0}


def _sigmoid(v):
    return JR["s_max"] / (1.0 + np.exp(JR["r"] * (JR["v0"] - v)))


def _jansen_rit_euler(state, W, k, steps, delays=None):
    """Float64 Euler steps of the diffusively coupled Jansen-Rit network, written out.

    M'' = A_e b_e S(E - I) - 2 b_e M' - b_e^2 M
    E'' = A_e b_e (p + k sum_j W_ij (S_j(t - D_ij) - S_i) + C a2 S(C a1 M)) - 2 b_e E' - b_e^2 E
    I'' = A_i b_i C a4 S(C a3 M) - 2 b_i I' - b_i^2 I,  with S_i = S(E_i - I_i),

    ``D`` in steps (``None``: no delays); before the start the rates keep their initial value.
    """
    be, bi, C = JR["b_e"], JR["b_i"], JR["C"]
    s = {name: np.asarray(v, float).copy() for name, v in state.items()}
    n = len(s["M"])
    D = np.zeros((n, n), int) if delays is None else delays
    rates, path = [], []
    for t in range(steps):
        rate = _sigmoid(s["E"] - s["I"])
        rates.append(rate)
        past = np.array([[rates[max(t - D[i, j], 0)][j] for j in range(n)] for i in range(n)])
        coupling = k * ((W * past).sum(1) - W.sum(1) * rate)
        accel_m = JR["A_e"] * be * rate - 2 * be * s["Mv"] - be**2 * s["M"]
        drive_e = JR["p"] + coupling + C * JR["a2"] * _sigmoid(C * JR["a1"] * s["M"])
        accel_e = JR["A_e"] * be * drive_e - 2 * be * s["Ev"] - be**2 * s["E"]
        accel_i = (JR["A_i"] * bi * C * JR["a4"] * _sigmoid(C * JR["a3"] * s["M"])
                   - 2 * bi * s["Iv"] - bi**2 * s["I"])
        s = {"M": s["M"] + DT * s["Mv"], "E": s["E"] + DT * s["Ev"], "I": s["I"] + DT * s["Iv"],
             "Mv": s["Mv"] + DT * accel_m, "Ev": s["Ev"] + DT * accel_e,
             "Iv": s["Iv"] + DT * accel_i}
        path.append(s)
    return path


@pytest.fixture
def network(rng):
    n = 5
    W = rng.uniform(0, 1, (n, n))
    np.fill_diagonal(W, 0)
    state = {"M": rng.uniform(0, 0.2, n), "E": rng.uniform(5, 30, n), "I": rng.uniform(5, 25, n),
             "Mv": rng.normal(0, 20, n), "Ev": rng.normal(0, 200, n), "Iv": rng.normal(0, 100, n)}
    # float32 start values, so both sides start from the same numbers
    return W / W.sum(1).mean(), {k: v.astype(np.float32).astype(float) for k, v in state.items()}


@pytest.mark.parametrize("every", [1, 2, 3])
def test_jansen_rit_network_steps_match_the_hand_written_equations(network, every):
    W, state = network
    ks = np.array([0.0, 0.5, 2.0])
    samples = 6 // every
    sim = mass.simulate(W, mass.JansenRit(), duration=6 * DT, dt=DT, sample_every=every * DT,
                        coupling=mass.Diffusive(k=1.0), sweep={"k": ks}, initial=state,
                        check_stability=False)
    assert sim.sizes["time"] == samples
    for j, k in enumerate(ks):
        path = _jansen_rit_euler(state, W, k, 6)
        for name in ("M", "E", "I", "Mv", "Ev", "Iv"):
            ref = np.stack([path[(i + 1) * every - 1][name] for i in range(samples)])
            got = sim[name].isel(k=j).transpose("time", "region").values
            scale = np.abs(ref).max()
            np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * scale, err_msg=name)


def test_one_jansen_rit_network_step_is_a_single_euler_step(network):
    W, state = network
    sim = mass.simulate(W, mass.JansenRit(), duration=DT, dt=DT, sample_every=DT,
                        coupling=mass.Diffusive(k=1.0), initial=state, check_stability=False)
    (ref,) = _jansen_rit_euler(state, W, 1.0, 1)
    for name, value in ref.items():
        np.testing.assert_allclose(sim[name].values[0], value, rtol=2e-6, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("kind", ["gaussian", "ou"])
def test_each_noise_draw_is_used_once_and_in_order(kind):
    # dx = (c + eta) dt (+ sigma dW): the path is a sum of the draws, which the test
    # regenerates with the kernel's counter-based generator (seed, point, sample).
    every, samples, seed, n = 3, 2, 7, 2
    model = mass.Linear(gamma=0.0, c=0.5)
    noise = (mass.GaussianNoise(sigma=0.3) if kind == "gaussian"
             else mass.OUNoise(sigma=0.3, tau=0.0005, mean=0.1))
    sim = mass.simulate(np.zeros((n, n)), model, duration=every * samples * DT, dt=DT,
                        sample_every=every * DT, noise=noise, seed=seed, initial={"x": 1.0},
                        check_stability=False)
    dt = DT * 1e3  # Linear runs in ms
    key = point_key(np.uint32(seed), np.arange(1, dtype=np.uint32))
    z = np.concatenate([np.asarray(normal(key, s, (every, 1, n)))[:, 0, :, 0]
                        for s in range(samples)]).astype(float)
    x, eta, path = np.ones(n), np.full(n, 0.1), []
    decay = np.exp(-dt / 0.5)
    for step in range(every * samples):
        if kind == "gaussian":
            x = x + dt * 0.5 + 0.3 * np.sqrt(dt) * z[step]
        else:
            x = x + dt * (0.5 + eta)
            eta = 0.1 + (eta - 0.1) * decay + 0.3 * np.sqrt(1 - decay**2) * z[step]
        path.append(x)
    ref = np.stack(path)[every - 1::every]
    np.testing.assert_allclose(sim.x.values, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("every", [1, 2, 3])
def test_delayed_jansen_rit_network_matches_the_hand_written_equations(network, every):
    W, state = network
    D = np.where(W > 0, np.arange(25).reshape(5, 5) % 4, 0)  # 0 to 3 steps
    steps, k = 30, 50.0
    sim = mass.simulate(W, mass.JansenRit(), duration=steps * DT, dt=DT,
                        sample_every=every * DT, delays=D * DT, coupling=mass.Diffusive(k=k),
                        initial=state, check_stability=False)
    ref = _jansen_rit_euler(state, W, k, steps, delays=D)
    plain = _jansen_rit_euler(state, W, k, steps)
    for name in ("E", "Ev"):
        want = np.stack([s[name] for s in ref])[every - 1::every]
        got = sim[name].values
        tol = 2e-6 * np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=0, atol=tol, err_msg=name)
    # what the delays change in the velocity is far above the tolerance
    undelayed = np.stack([s["Ev"] for s in plain])[every - 1::every]
    assert np.abs(want - undelayed).max() > 100 * tol
