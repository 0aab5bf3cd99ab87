"""Mean-field models: Montbrio-Pazo-Roxin (QIF) and the reduced Wong-Wang model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import jax.numpy as jnp

from xneuro.mass.models.base import Model

__all__ = ["MontbrioPazoRoxin", "ReducedWongWang"]


class MontbrioPazoRoxin(Model):
    r"""Exact mean field of quadratic integrate-and-fire neurons (Montbrio, Pazo & Roxin 2015).

    .. math::
        \tau \dot r &= \frac{\Delta}{\pi \tau} + 2 r v \\
        \tau \dot v &= v^2 + \eta + J \tau r - (\pi \tau r)^2 + I_{ext} + I

    Time in ms and ``r`` in kHz (spikes/ms), so the defaults
    (``tau=1, Delta=1, eta=-5, J=15``) are the bistable regime of the paper.
    brainmass keeps ``r`` in Hz, which makes its ``Delta=1`` a thousand times
    smaller. ``r`` is sent; the coupling input adds to the ``v`` equation.
    """

    name = "MontbrioPazoRoxinStep"
    category = "physiological"
    use_case = "exact QIF mean field: bistability, synchrony, fast transients"
    states = ("r", "v")
    defaults: ClassVar[dict[str, float]] = {
        "tau": 1.0, "Delta": 1.0, "eta": -5.0, "J": 15.0, "I_ext": 0.0,
    }
    state_units: ClassVar[dict[str, str]] = {"r": "kHz", "v": "1"}
    init_range: ClassVar[dict[str, tuple[float, float]]] = {"r": (0.0, 0.1), "v": (-2.0, -1.5)}
    noise_states = ("v",)
    output = "r"

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        r, v, tau = state["r"], state["v"], p["tau"]
        dr = (p["Delta"] / (jnp.pi * tau) + 2.0 * r * v) / tau
        dv = (v * v + p["eta"] + p["J"] * tau * r - (jnp.pi * tau * r) ** 2 + p["I_ext"] + inp)
        return {"r": dr, "v": dv / tau}

    def clip(self, state: dict[str, Any]) -> dict[str, Any]:
        """Rates stay non-negative."""
        return {"r": jnp.maximum(state["r"], 0.0), "v": state["v"]}


class ReducedWongWang(Model):
    r"""Reduced Wong-Wang model of NMDA gating per region (Deco et al. 2013, J Neurosci).

    .. math::
        x &= w J_N S + I_0 + J_N I \\
        H(x) &= \frac{a x - b}{1 - e^{-d (a x - b)}} \\
        \dot S &= -S / \tau_S + (1 - S)\,\gamma H(x)

    Time in seconds, currents in nA, ``H`` in Hz. ``S`` is sent and kept in
    ``[0, 1]``; with :class:`~xneuro.mass.coupling.Additive` coupling of gain
    ``k`` the input is :math:`J_N k \sum_j W_{ij} S_j` (``k`` is the global
    coupling ``G`` of the paper).
    """

    name = "ReducedWongWangStep"
    category = "physiological"
    use_case = "resting-state FC fitting with a biophysical (NMDA) mean field"
    states = ("S",)
    defaults: ClassVar[dict[str, float]] = {
        "a": 270.0, "b": 108.0, "d": 0.154, "gamma": 0.641, "tau_S": 0.1,
        "w": 0.9, "J_N": 0.2609, "I_0": 0.3,
    }
    param_units: ClassVar[dict[str, str]] = {"b": "1/{t}", "tau_S": "{t}"}
    init_range: ClassVar[dict[str, tuple[float, float]]] = {"S": (0.0, 0.2)}
    noise_states = ("S",)
    output = "S"
    default_time_unit = "s"

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        S = state["S"]
        x = p["w"] * p["J_N"] * S + p["I_0"] + p["J_N"] * inp
        u = p["a"] * x - p["b"]
        # (u / (1 - exp(-d u))) is smooth at u = 0 (limit 1/d); avoid 0/0 there.
        small = jnp.abs(u) < 1e-6
        safe = jnp.where(small, 1.0, u)
        H = jnp.where(small, 1.0 / p["d"] + u / 2.0, safe / (1.0 - jnp.exp(-p["d"] * safe)))
        return {"S": -S / p["tau_S"] + (1.0 - S) * p["gamma"] * H}

    def clip(self, state: dict[str, Any]) -> dict[str, Any]:
        """Gating variables stay in ``[0, 1]``."""
        return {"S": jnp.clip(state["S"], 0.0, 1.0)}

    def default_coupling(self) -> Any:
        from xneuro.mass.coupling import Additive

        return Additive(k=0.5)
