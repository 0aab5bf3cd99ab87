"""Population models: Jansen-Rit and Wilson-Cowan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import jax.numpy as jnp

from xneuro.mass.models.base import Model
from xneuro.mass.utils import sigmoid, sys2nd

__all__ = ["JansenRit", "WilsonCowan"]


class JansenRit(Model):
    r"""Jansen-Rit cortical column (pyramidal cells M, excitatory E and inhibitory I interneurons).

    .. math::
        \ddot M &= A_e b_e S(E - I) - 2 b_e \dot M - b_e^2 M \\
        \ddot E &= A_e b_e \big(p + I_c + C a_2 S(C a_1 M)\big) - 2 b_e \dot E - b_e^2 E \\
        \ddot I &= A_i b_i C a_4 S(C a_3 M) - 2 b_i \dot I - b_i^2 I

    with :math:`S(v) = s_{max} / (1 + e^{r (v_0 - v)})` and each second-order
    block written with :func:`~xneuro.mass.utils.sys2nd` (velocity states
    ``Mv``, ``Ev``, ``Iv``). Time in seconds, potentials in mV, rates in Hz.
    A region sends its pyramidal firing rate :math:`S(E - I)`; the coupling
    input :math:`I_c` (Hz) adds to the external drive ``p``. The EEG-like
    observable is ``E - I``.

    Parameters
    ----------
    A_e, A_i : Parameter
        Maximal excitatory / inhibitory PSP (3.25 mV, 22 mV).
    b_e, b_i : Parameter
        Synaptic rate constants (100 1/s, 50 1/s).
    C : Parameter
        Connectivity constant (135).
    a1, a2, a3, a4 : Parameter
        Relative connectivities (1, 0.8, 0.25, 0.25).
    s_max, v0, r : Parameter
        Sigmoid (5 Hz, 6 mV, 0.56 1/mV).
    p : Parameter, default 220.0
        External drive (Hz). brainmass defaults it to 0; 220 Hz is the value
        of the alpha rhythm in Jansen & Rit (1995).
    """

    name = "JansenRitStep"
    category = "physiological"
    use_case = "EEG/MEG alpha rhythm, evoked responses, epileptiform transitions"
    states = ("M", "E", "I", "Mv", "Ev", "Iv")
    defaults: ClassVar[dict[str, float]] = {
        "A_e": 3.25, "A_i": 22.0, "b_e": 100.0, "b_i": 50.0, "C": 135.0,
        "a1": 1.0, "a2": 0.8, "a3": 0.25, "a4": 0.25,
        "s_max": 5.0, "v0": 6.0, "r": 0.56, "p": 220.0,
    }
    param_units: ClassVar[dict[str, str]] = {"b_e": "1/{t}", "b_i": "1/{t}"}
    state_units: ClassVar[dict[str, str]] = {
        "M": "mV", "E": "mV", "I": "mV", "Mv": "mV/s", "Ev": "mV/s", "Iv": "mV/s",
    }
    init_range: ClassVar[dict[str, tuple[float, float]]] = {
        "M": (0.0, 0.2), "E": (0.0, 2.0), "I": (0.0, 2.0),
    }
    noise_states = ("Ev",)
    output = "E-I"
    default_time_unit = "s"

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        M, E, I_ = state["M"], state["E"], state["I"]
        S = lambda v: sigmoid(v, p["s_max"], p["v0"], p["r"])
        C = p["C"]
        to_e = p["p"] + inp + C * p["a2"] * S(C * p["a1"] * M)
        return {
            "M": state["Mv"],
            "E": state["Ev"],
            "I": state["Iv"],
            "Mv": sys2nd(p["A_e"], p["b_e"], S(E - I_), M, state["Mv"]),
            "Ev": sys2nd(p["A_e"], p["b_e"], to_e, E, state["Ev"]),
            "Iv": sys2nd(p["A_i"], p["b_i"], C * p["a4"] * S(C * p["a3"] * M), I_, state["Iv"]),
        }

    def source(self, state: Mapping[str, Any], p: Mapping[str, Any]) -> Any:
        return sigmoid(state["E"] - state["I"], p["s_max"], p["v0"], p["r"])

    def observe(self, sim: Any) -> Any:
        """The EEG-like pyramidal potential ``E - I`` (mV)."""
        out = sim["E"] - sim["I"]
        out.attrs = {"units": "mV", "long_name": "E - I"}
        return out

    def default_coupling(self) -> Any:
        from xneuro.mass.coupling import Additive

        return Additive(k=1.0)


class WilsonCowan(Model):
    r"""Wilson-Cowan excitatory/inhibitory rate model (brainmass's ``WilsonCowanStep`` form).

    .. math::
        \tau_E \dot r_E &= -r_E + (1 - r\,r_E)\,F(w_{EE} r_E - w_{IE} r_I + I_E + I;\ a_E, \theta_E)\\
        \tau_I \dot r_I &= -r_I + (1 - r\,r_I)\,F(w_{EI} r_E - w_{II} r_I + I_I;\ a_I, \theta_I)

    with :math:`F(x; a, \theta) = \sigma(a(x - \theta)) - \sigma(-a\theta)`
    (:math:`\sigma` the logistic). ``w_IE`` is the I->E weight and ``w_EI`` the
    E->I weight. Time in ms; ``r_E`` is sent and the coupling input adds to
    the E drive.
    """

    name = "WilsonCowanStep"
    category = "physiological"
    use_case = "E/I balance, oscillations and bistability of population rates"
    states = ("rE", "rI")
    defaults: ClassVar[dict[str, float]] = {
        "tau_E": 1.0, "tau_I": 1.0, "a_E": 1.2, "theta_E": 2.8, "a_I": 1.0, "theta_I": 4.0,
        "w_EE": 12.0, "w_IE": 4.0, "w_EI": 13.0, "w_II": 11.0, "r": 1.0, "I_E": 0.0,
        "I_I": 0.0,
    }
    init_range: ClassVar[dict[str, tuple[float, float]]] = {"rE": (0.0, 0.05), "rI": (0.0, 0.05)}
    noise_states = ("rE", "rI")
    output = "rE"

    @staticmethod
    def gain(x: Any, a: Any, theta: Any) -> Any:
        """Shifted logistic :math:`F(x; a, \\theta)`, zero at ``x = 0``."""
        return 1.0 / (1.0 + jnp.exp(-a * (x - theta))) - 1.0 / (1.0 + jnp.exp(a * theta))

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        rE, rI = state["rE"], state["rI"]
        drive_e = p["w_EE"] * rE - p["w_IE"] * rI + p["I_E"] + inp
        drive_i = p["w_EI"] * rE - p["w_II"] * rI + p["I_I"]
        return {
            "rE": (-rE + (1.0 - p["r"] * rE) * self.gain(drive_e, p["a_E"], p["theta_E"]))
            / p["tau_E"],
            "rI": (-rI + (1.0 - p["r"] * rI) * self.gain(drive_i, p["a_I"], p["theta_I"]))
            / p["tau_I"],
        }
