"""Utilities with the seed's signatures, and the model catalogue."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from xneuro import mass
from xneuro.core.errors import InputError


def test_sigmoid_by_hand():
    # 5 / (1 + exp(0.56 * (6 - 8))) computed by hand: exp(-1.12) = 0.32628
    assert mass.sigmoid(8.0, 5.0, 6.0, 0.56) == pytest.approx(5 / (1 + 0.3262797946), rel=1e-9)
    assert mass.sigmoid(6.0, 5.0, 6.0, 0.56) == pytest.approx(2.5)
    import jax.numpy as jnp

    assert float(mass.sigmoid(jnp.float32(6.0), 5.0, 6.0, 0.56)) == pytest.approx(2.5)


def test_sys2nd_by_hand():
    # A a u - 2 a v - a^2 x = 3.25*100*2 - 2*100*1 - 100^2*0.1 = 650 - 200 - 1000
    assert mass.sys2nd(3.25, 100.0, 2.0, 0.1, 1.0) == pytest.approx(-550.0)


def test_bounded_input():
    assert mass.bounded_input(1e-3) == pytest.approx(1e-3, rel=1e-6)
    assert mass.bounded_input(1e6, bound=10.0) == pytest.approx(10.0)
    assert mass.bounded_input(500.0) == pytest.approx(500 * np.tanh(1.0))
    with pytest.raises(InputError, match="bound"):
        mass.bounded_input(1.0, bound=0.0)


def test_process_sequence_over_pytrees():
    data = {"a": np.array([[1.0, 2.0], [3.0, 6.0]]), "b": (np.array([1.0, 5.0]), [np.arange(2)])}
    assert mass.process_sequence(data, "stack") is data
    last = mass.process_sequence(data, "last")
    np.testing.assert_array_equal(last["a"], [3.0, 6.0])
    assert last["b"][0] == 5.0 and last["b"][1][0] == 1
    assert mass.process_sequence(data, "first")["b"][0] == 1.0
    np.testing.assert_array_equal(mass.process_sequence(data, "avg")["a"], [2.0, 4.0])
    np.testing.assert_array_equal(mass.process_sequence(data, "mean")["a"], [2.0, 4.0])
    np.testing.assert_array_equal(mass.process_sequence(data, "max")["a"], [3.0, 6.0])
    np.testing.assert_array_equal(mass.process_sequence(data, "min")["a"], [1.0, 2.0])
    assert mass.process_sequence(data, lambda x: x.shape)["a"] == (2, 2)
    with pytest.raises(InputError, match="mode"):
        mass.process_sequence(data, "median")


def test_delay_index_and_steps():
    idx = mass.delay_index(4)
    assert idx.shape == (4, 4) and (idx == np.arange(4)).all()
    buffer = np.arange(12).reshape(3, 4)  # 3 steps of history, 4 regions
    steps = np.full((4, 4), 1)
    # every (i, j) reads source j one step back
    np.testing.assert_array_equal(buffer[2 - steps, idx][0], buffer[1])
    np.testing.assert_array_equal(mass.delay_steps([0.0, 1.04e-3, 2e-3], 1e-4), [0, 10, 20])
    with pytest.raises(InputError, match="delays"):
        mass.delay_steps([-1.0], 1e-4)
    with pytest.raises(InputError, match="n"):
        mass.delay_index(0)


def test_list_models_catalogue():
    models = mass.list_models()
    names = {m.name for m in models}
    assert names >= {"HopfStep", "JansenRitStep", "WilsonCowanStep", "FitzHughNagumoStep",
                     "KuramotoNetwork", "MontbrioPazoRoxinStep", "ReducedWongWangStep"}
    jr = next(m for m in models if m.name == "JansenRitStep")
    assert jr.category == "physiological" and jr.n_state_vars == 6 == jr.n_states
    assert {m.category for m in models} <= {"phenomenological", "physiological", "network"}
    table = mass.list_models.to_table()
    header = table.splitlines()[0]
    assert header.split() == ["name", "category", "#states", "use_case"]
    assert "JansenRitStep" in table
    assert mass.HopfStep is mass.Hopf and mass.JansenRitStep is mass.JansenRit
