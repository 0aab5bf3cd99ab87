"""The contract of a neural-mass model: named states, parameters with defaults, a pure RHS.

A model is a small description object. Its :meth:`Model.rhs` is a pure JAX
function of the state (a dict of per-region arrays), the parameters (a dict of
per-region arrays) and the afferent coupling input; the network kernel
(:mod:`xneuro.mass.kernel`) vectorizes it over regions and sweep points.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from xneuro.core.errors import input_error

__all__ = ["TIME_SCALE", "Model"]

log = logging.getLogger("xneuro.mass.models")

#: Model time unit -> model time units per second.
TIME_SCALE: dict[str, float] = {"ms": 1000.0, "s": 1.0}


class Model:
    """Base class of the neural-mass models (one node per region).

    Parameters
    ----------
    time_unit : {"ms", "s"}, optional
        Time unit of the model's equations and rate parameters; the class
        default is the literature's (``ms`` for Hopf, ``s`` for Jansen-Rit).
        Simulation times (``dt``, ``duration``, delays) are always in seconds.
    **params : Parameter
        Parameter values: a number, a per-region array (length = regions), a
        DataArray over ``region``, or a callable ``shape -> array``. Unset
        parameters take :attr:`defaults`.

    Attributes
    ----------
    params : dict
        The parameter values, defaults filled in.
    """

    #: Catalogue name (the seed's ``*Step`` name is an alias of the class).
    name: ClassVar[str] = "Model"
    #: "phenomenological", "physiological" or "network".
    category: ClassVar[str] = "phenomenological"
    #: One-line typical use case.
    use_case: ClassVar[str] = ""
    #: Names of the state variables, in order.
    states: ClassVar[tuple[str, ...]] = ()
    #: Parameter defaults, in the model's units.
    defaults: ClassVar[dict[str, float]] = {}
    #: Units of the state variables (for attrs).
    state_units: ClassVar[dict[str, str]] = {}
    #: Units of rate parameters, with ``{t}`` standing for the time unit (for DataArray checks).
    param_units: ClassVar[dict[str, str]] = {}
    #: Range ``(low, high)`` of the seeded uniform initial state, per state.
    init_range: ClassVar[dict[str, tuple[float, float]]] = {}
    #: States that receive additive noise by default.
    noise_states: ClassVar[tuple[str, ...]] = ()
    #: State (or observable) that drives the BOLD model by default.
    output: ClassVar[str] = ""
    #: Default time unit of the equations.
    default_time_unit: ClassVar[str] = "ms"

    def __init__(self, *, time_unit: str | None = None, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise input_error(
                f"{type(self).__name__}({', '.join(unknown)}=...)",
                f"{unknown} are not parameters of {self.name}",
                expected=f"names from {sorted(self.defaults)}",
                fix="check the spelling; list the parameters with "
                f"{type(self).__name__}.defaults",
            )
        unit = self.default_time_unit if time_unit is None else time_unit
        if unit not in TIME_SCALE:
            raise input_error("time_unit", f"is {time_unit!r}", expected="'ms' or 's'")
        self.time_unit = unit
        self.params: dict[str, Any] = {**self.defaults, **params}
        for key, value in params.items():
            self._check_value(key, value)

    # -- parameters -------------------------------------------------------------

    def _check_value(self, key: str, value: Any) -> None:
        if callable(value) and not isinstance(value, xr.DataArray | np.ndarray):
            return
        if isinstance(value, xr.DataArray):
            expected = self.param_units.get(key)
            units = value.attrs.get("units")
            if expected is not None and units is not None:
                want = expected.format(t=self.time_unit)
                if units.replace(" ", "") != want:
                    raise input_error(
                        f"{self.name}({key}=...)",
                        f"is in {units!r} but this model's {key} is in {want!r} "
                        f"(time_unit={self.time_unit!r})",
                        expected=f"a value in {want!r}",
                        fix=f"pass time_unit={units.split('/')[-1]!r} to use the value's "
                        "time unit, or convert the value",
                    )
            value = value.values
        array = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(array)):
            raise input_error(
                f"{self.name}({key}=...)",
                "has NaN or infinite values",
                expected="finite numbers",
                fix="fill or drop the missing values before building the model",
            )

    def resolve(self, n: int, regions: Any = None) -> dict[str, np.ndarray]:
        """Per-region parameter arrays for a network of ``n`` regions.

        Parameters
        ----------
        n : int
            Number of regions.
        regions : array-like, optional
            Region labels, to align DataArray parameters by their ``region`` coord.

        Returns
        -------
        dict of str to ndarray
            Each parameter as a float64 array of shape ``(n,)``.
        """
        out = {}
        for key, value in self.params.items():
            out[key] = self._resolve_one(key, value, n, regions)
        return out

    def _resolve_one(self, key: str, value: Any, n: int, regions: Any) -> np.ndarray:
        where = f"{self.name}({key}=...)"
        if isinstance(value, xr.DataArray):
            if value.ndim == 1 and "region" in value.dims:
                if regions is not None and "region" in value.coords:
                    try:
                        value = value.sel(region=list(regions))
                    except KeyError as err:
                        raise input_error(
                            where,
                            "has region labels that are not the connectome's",
                            expected="a DataArray over the connectome's 'region' coordinate",
                            fix="build it from the same connectome",
                        ) from err
            elif value.ndim:
                raise input_error(
                    where, f"has dims {value.dims}", expected="a scalar or dims ('region',)"
                )
            value = value.values
        elif callable(value) and not isinstance(value, np.ndarray):
            value = value((n,))
        array = np.asarray(value, dtype=float)
        if array.ndim == 0:
            return np.full(n, float(array))
        if array.shape != (n,):
            raise input_error(
                where,
                f"has shape {array.shape}",
                expected=f"a scalar or one value per region, shape ({n},)",
                fix="pass a number, or an array with one entry per region",
            )
        return array.copy()

    def replace(self, **params: Any) -> Model:
        """Return a copy with some parameters changed.

        Parameters
        ----------
        **params : Parameter
            New values.

        Returns
        -------
        Model
            A new model of the same class and time unit.
        """
        return type(self)(time_unit=self.time_unit, **{**self.params, **params})

    def settings(self) -> dict[str, Any]:
        """JSON-like description (for provenance and job fingerprints)."""
        values = {}
        for key, value in self.params.items():
            if isinstance(value, xr.DataArray):
                value = value.values
            if callable(value) and not isinstance(value, np.ndarray):
                values[key] = f"callable {getattr(value, '__name__', repr(value))}"
            else:
                array = np.asarray(value, dtype=float)
                values[key] = float(array) if array.ndim == 0 else array.tolist()
        return {"model": self.name, "time_unit": self.time_unit, "params": values}

    # -- dynamics ---------------------------------------------------------------

    def rhs(self, state: Mapping[str, Any], p: Mapping[str, Any], inp: Any) -> dict[str, Any]:
        """Time derivatives of every state (model time units), pure JAX.

        Parameters
        ----------
        state : mapping
            State name to array (one value per region).
        p : mapping
            Parameter name to array.
        inp : array
            Afferent coupling input, added where the model documents.

        Returns
        -------
        dict
            State name to derivative.
        """
        raise NotImplementedError  # pragma: no cover - every concrete model defines it

    def source(self, state: Mapping[str, Any], p: Mapping[str, Any]) -> Any:
        """The quantity a region sends to the others (default: the first state)."""
        return state[self.states[0]]

    def clip(self, state: dict[str, Any]) -> dict[str, Any]:
        """Project the state back to its valid range after a step (default: nothing)."""
        return state

    def observe(self, sim: xr.Dataset) -> xr.DataArray:
        """The observable that drives BOLD, from a simulation Dataset."""
        return sim[self.output]

    def default_coupling(self) -> Any:
        """The coupling used when ``simulate`` gets none."""
        from xneuro.mass.coupling import Diffusive

        return Diffusive(k=0.1)

    def initial_state(self, n: int, seed: int = 0) -> dict[str, np.ndarray]:
        """A seeded random initial state, uniform in :attr:`init_range`.

        Parameters
        ----------
        n : int
            Number of regions.
        seed : int
            Seed of the numpy generator.

        Returns
        -------
        dict of str to ndarray
            State name to array of shape ``(n,)``.
        """
        rng = np.random.default_rng(seed)
        out = {}
        for name in self.states:
            low, high = self.init_range.get(name, (0.0, 0.0))
            out[name] = rng.uniform(low, high, n) if high > low else np.full(n, low)
        return out

    def step(
        self, state: Mapping[str, Any], inp: Any = 0.0, dt: float = 0.1
    ) -> dict[str, Any]:
        """One explicit Euler step of an uncoupled node (the seed's ``*Step`` semantics).

        Parameters
        ----------
        state : mapping
            State name to value(s).
        inp : array-like, default 0.0
            Afferent input.
        dt : float, default 0.1
            Step in the model's time unit.

        Returns
        -------
        dict
            The state after one step.
        """
        import jax.numpy as jnp

        p = {key: jnp.asarray(self._resolve_one(key, value, 1, None)[0])
             for key, value in self.params.items()}
        s = {key: jnp.asarray(state[key], dtype=float) for key in self.states}
        d = self.rhs(s, p, jnp.asarray(inp, dtype=float))
        return self.clip({key: s[key] + dt * d[key] for key in self.states})

    def __repr__(self) -> str:
        given = ", ".join(
            f"{key}={value!r}" if np.ndim(value) == 0 else f"{key}=<array>"
            for key, value in self.params.items()
            if not (np.ndim(value) == 0 and not callable(value) and value == self.defaults[key])
        )
        return f"{type(self).__name__}({given})"

