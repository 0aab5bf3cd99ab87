"""Coupling functions: how a region's afferent input is made from the others' sources.

Each coupling has parameters (swept like model parameters) and two pure JAX
forms on region-major blocks (sources ``x`` of shape ``(n, points)``):
:meth:`Coupling.instant` uses the sources at the current step (one matrix
product), :meth:`Coupling.delayed` takes the per-connection delayed sources
``xd[i, j, p] = x_j(t - D_ij)`` gathered from the ring buffer. Parameters
have shape ``(points,)`` and broadcast over regions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from xneuro.core.errors import input_error

__all__ = ["Additive", "Coupling", "Diffusive", "Sine"]


class Coupling:
    """Base class: a gain ``k`` and parameters; subclasses define the two forms.

    Parameters
    ----------
    **params : float
        Parameter values (scalars); unset ones take :attr:`defaults`.
    """

    name: ClassVar[str] = "coupling"
    defaults: ClassVar[dict[str, float]] = {"k": 0.1}

    def __init__(self, **params: float) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise input_error(
                f"{type(self).__name__}({', '.join(unknown)}=...)",
                f"{unknown} are not parameters of this coupling",
                expected=f"names from {sorted(self.defaults)}",
            )
        for key, value in params.items():
            if not (np.ndim(value) == 0 and np.isfinite(float(value))):
                raise input_error(
                    f"{type(self).__name__}({key}=...)",
                    f"is {value!r}",
                    expected="a finite number",
                    fix="sweep values go in simulate(sweep={...})",
                )
        self.params = {**self.defaults, **{k: float(v) for k, v in params.items()}}

    def static(self) -> tuple[Any, ...]:
        """Hashable configuration that changes the compiled program (default none)."""
        return ()

    def instant(self, c: dict[str, Any], W: Any, rowsum: Any, x: Any) -> Any:
        """Afferent input ``(n, points)`` from the current sources ``x`` ``(n, points)``.

        ``rowsum`` is ``W.sum(1)`` shaped ``(n, 1)``.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def delayed(self, c: dict[str, Any], W: Any, rowsum: Any, xd: Any, x: Any) -> Any:
        """Afferent input from delayed sources ``xd`` ``(n, n, points)`` and own sources ``x``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def settings(self) -> dict[str, Any]:
        """JSON-like description."""
        return {"coupling": type(self).__name__, "params": dict(self.params)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class Diffusive(Coupling):
    r"""Diffusive (difference) coupling, :math:`k \sum_j W_{ij} (x_j(t - D_{ij}) - x_i(t))`.

    Parameters
    ----------
    k : float, default 0.1
        Global coupling gain.
    """

    name = "diffusive"
    defaults: ClassVar[dict[str, float]] = {"k": 0.1}

    def instant(self, c: dict[str, Any], W: Any, rowsum: Any, x: Any) -> Any:
        return c["k"] * (W @ x - rowsum * x)

    def delayed(self, c: dict[str, Any], W: Any, rowsum: Any, xd: Any, x: Any) -> Any:
        return c["k"] * (jnp.einsum("ij,ijp->ip", W, xd) - rowsum * x)


class Additive(Coupling):
    r"""Additive (linear) coupling, :math:`k \sum_j W_{ij} x_j(t - D_{ij}) + b`.

    Parameters
    ----------
    k : float, default 0.1
        Global coupling gain.
    b : float, default 0.0
        Constant offset.
    """

    name = "additive"
    defaults: ClassVar[dict[str, float]] = {"k": 0.1, "b": 0.0}

    def instant(self, c: dict[str, Any], W: Any, rowsum: Any, x: Any) -> Any:
        return c["k"] * (W @ x) + c["b"]

    def delayed(self, c: dict[str, Any], W: Any, rowsum: Any, xd: Any, x: Any) -> Any:
        return c["k"] * jnp.einsum("ij,ijp->ip", W, xd) + c["b"]


class Sine(Coupling):
    r"""Kuramoto phase coupling, :math:`\frac{k}{N} \sum_j W_{ij} \sin(\theta_j - \theta_i - \alpha)`.

    Parameters
    ----------
    k : float, default 1.0
        Global coupling gain.
    alpha : float, default 0.0
        Phase lag (rad).
    normalize : bool, default True
        Divide by the number of regions ``N`` (the classic Kuramoto form).
    """

    name = "sine"
    defaults: ClassVar[dict[str, float]] = {"k": 1.0, "alpha": 0.0}

    def __init__(self, normalize: bool = True, **params: float) -> None:
        super().__init__(**params)
        self.normalize = bool(normalize)

    def static(self) -> tuple[Any, ...]:
        return (self.normalize,)

    def _scale(self, c: dict[str, Any], n: int) -> Any:
        return c["k"] / n if self.normalize else c["k"]

    def instant(self, c: dict[str, Any], W: Any, rowsum: Any, x: Any) -> Any:
        # sin(tj - ti - a) = sin(tj) cos(ti + a) - cos(tj) sin(ti + a): two mat-vecs.
        shifted = x + c["alpha"]
        total = jnp.cos(shifted) * (W @ jnp.sin(x)) - jnp.sin(shifted) * (W @ jnp.cos(x))
        return self._scale(c, W.shape[0]) * total

    def delayed(self, c: dict[str, Any], W: Any, rowsum: Any, xd: Any, x: Any) -> Any:
        phase = xd - x[:, None, :] - c["alpha"]
        return self._scale(c, W.shape[0]) * jnp.einsum("ij,ijp->ip", W, jnp.sin(phase))

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "normalize": self.normalize}
