"""Explicit integrators for ``dx = f(x) dt + g dW`` with additive noise, on dict states.

Each step takes the drift ``f`` (a function of the state dict), the state, the
step ``dt`` and the noise increments ``dw`` (a dict of already scaled
``sigma * sqrt(dt) * xi`` per noisy state, or empty). Coupling delays are held
fixed across the stages of a step (as in TVB).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from xneuro.core.errors import input_error

__all__ = ["INTEGRATORS", "STABILITY_LIMIT", "euler", "get_integrator", "heun", "rk4"]

State = dict[str, Any]
Drift = Callable[[State], State]


def _axpy(state: Mapping[str, Any], scale: Any, d: Mapping[str, Any]) -> State:
    return {key: state[key] + scale * d[key] for key in state}


def _add_noise(state: State, dw: Mapping[str, Any]) -> State:
    if not dw:
        return state
    return {key: (value + dw[key]) if key in dw else value for key, value in state.items()}


def euler(f: Drift, state: State, dt: float, dw: Mapping[str, Any]) -> State:
    """Euler-Maruyama: ``x + dt f(x) + dw``."""
    return _add_noise(_axpy(state, dt, f(state)), dw)


def heun(f: Drift, state: State, dt: float, dw: Mapping[str, Any]) -> State:
    """Stochastic Heun (predictor-corrector, the same increment in both stages)."""
    k1 = f(state)
    predictor = _add_noise(_axpy(state, dt, k1), dw)
    k2 = f(predictor)
    mean = {key: 0.5 * (k1[key] + k2[key]) for key in state}
    return _add_noise(_axpy(state, dt, mean), dw)


def rk4(f: Drift, state: State, dt: float, dw: Mapping[str, Any]) -> State:
    """Classic fourth-order Runge-Kutta on the drift, plus the additive noise increment."""
    k1 = f(state)
    k2 = f(_axpy(state, 0.5 * dt, k1))
    k3 = f(_axpy(state, 0.5 * dt, k2))
    k4 = f(_axpy(state, dt, k3))
    mean = {key: (k1[key] + 2.0 * k2[key] + 2.0 * k3[key] + k4[key]) / 6.0 for key in state}
    return _add_noise(_axpy(state, dt, mean), dw)


INTEGRATORS: dict[str, Callable[..., State]] = {"euler": euler, "heun": heun, "rk4": rk4}
#: Largest ``dt * |lambda|`` on the negative real axis for which each scheme is stable.
STABILITY_LIMIT: dict[str, float] = {"euler": 2.0, "heun": 2.0, "rk4": 2.785}


def get_integrator(name: str) -> Callable[..., State]:
    """The step function called ``name``; an error lists the choices."""
    if name not in INTEGRATORS:
        raise input_error(
            "integrator", f"is {name!r}", expected=f"one of {sorted(INTEGRATORS)}"
        )
    return INTEGRATORS[name]
