"""Validated settings of a parameter fit: the gradient options and the optimizer.

Everything here runs before any expensive work, so that a bad argument gives
an error that names it, says what was expected and how to fix it. The results
are small frozen dataclasses that travel to dask workers and key the cache of
compiled programs.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xneuro.core.errors import input_error

__all__ = [
    "GradientConfig",
    "OptimizerSpec",
    "check_count",
    "check_names",
    "gradient_config",
    "optimizer_spec",
]

logger = logging.getLogger("xneuro.encoding.fit")

NOISE_MODELS = ("ssq", "gaussian")
EARLY_STOPPING = ("voxel", "mean")
#: braincoder forwards keras.optimizers.Adam keywords; these map to optax.adam's.
KERAS_ADAM_NAMES = {"beta_1": "b1", "beta_2": "b2", "epsilon": "eps"}


def check_count(name: str, value: Any, minimum: int = 0) -> int:
    """``value`` as an int ``>= minimum``, or an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise input_error(name, f"is {value!r}", expected=f"an int >= {minimum}",
                          fix=f"pass e.g. {name}={max(minimum, 100)}")
    return int(value)


def check_float(name: str, value: Any, minimum: float = 0.0) -> float:
    """``value`` as a finite float ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or \
            not np.isfinite(value) or value < minimum:
        raise input_error(name, f"is {value!r}", expected=f"a finite number >= {minimum:g}")
    return float(value)


def check_names(argument: str, names: Any, labels: tuple[str, ...]) -> tuple[str, ...]:
    """Parameter names (a str, or an iterable of str) checked against the model's labels."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, Iterable) or isinstance(names, Mapping):
        raise input_error(argument, f"is a {type(names).__name__}",
                          expected="a list of parameter names", fix=f"pass e.g. {argument}=['sd']")
    names = list(names)
    unknown = [n for n in names if n not in labels]
    if unknown:
        raise input_error(argument, f"names unknown parameters {unknown}",
                          expected=f"names from the model's labels {list(labels)}",
                          fix="check the spelling, or use model.get_parameter_labels()")
    if len(set(names)) != len(names):
        raise input_error(argument, f"repeats names {names}", expected="each name once")
    return tuple(n for n in labels if n in names)


@dataclass(frozen=True)
class GradientConfig:
    """What the gradient program does (hashable: it keys the compiled-program cache).

    Attributes
    ----------
    labels : tuple of str
        The model's parameter labels.
    fixed, shared : tuple of int
        Columns held at their initial value, and columns tied across voxels.
    max_n_iterations, min_n_iterations, lag : int
        Iteration budget and early-stopping window.
    r2_atol : float
        Early stopping threshold on the improvement of the best R².
    early_stopping : {"voxel", "mean"}
        Freeze each voxel when its own best R² stops improving (default), or
        stop all voxels when their mean best R² does (braincoder's rule).
    noise_model : {"ssq", "gaussian"}
        The loss.
    store_intermediate : bool
        Record the parameters and R² of every iteration.
    block_steps : int
        Iterations per compiled call (progress and early stopping are checked
        between calls; the results do not depend on it).
    """

    labels: tuple[str, ...]
    fixed: tuple[int, ...] = ()
    shared: tuple[int, ...] = ()
    max_n_iterations: int = 1000
    min_n_iterations: int = 100
    lag: int = 100
    r2_atol: float = 1e-6
    early_stopping: str = "voxel"
    noise_model: str = "ssq"
    store_intermediate: bool = False
    block_steps: int = 100

    @property
    def free(self) -> tuple[int, ...]:
        """Columns fitted per voxel."""
        return tuple(i for i in range(len(self.labels))
                     if i not in self.fixed and i not in self.shared)

    def program_key(self) -> tuple:
        """The settings that shape the compiled program (thresholds are run-time inputs)."""
        return (self.labels, self.fixed, self.shared, self.lag, self.stopping,
                self.noise_model, self.store_intermediate, self.block_steps)

    @property
    def stopping(self) -> str:
        """The early-stopping rule in effect (shared parameters couple voxels: "mean")."""
        return "mean" if self.shared else self.early_stopping


def gradient_config(labels: tuple[str, ...], *, max_n_iterations: Any = 1000,
                    min_n_iterations: Any = 100, lag: Any = 100, r2_atol: Any = 1e-6,
                    fixed_pars: Any = None, shared_pars: Any = None, noise_model: Any = "ssq",
                    early_stopping: Any = "voxel", store_intermediate_parameters: Any = False,
                    ) -> GradientConfig:
    """Check the gradient options and return them as a :class:`GradientConfig`."""
    max_it = check_count("max_n_iterations", max_n_iterations)
    min_it = check_count("min_n_iterations", min_n_iterations)
    lag = check_count("lag", lag, 1)
    atol = check_float("r2_atol", r2_atol)
    if noise_model not in NOISE_MODELS:
        raise input_error("noise_model", f"is {noise_model!r}", expected=f"one of {NOISE_MODELS}",
                          fix="pass noise_model='ssq' (sum of squares) or 'gaussian' (per-voxel "
                          "Gaussian likelihood with a fitted variance)")
    if early_stopping not in EARLY_STOPPING:
        raise input_error("early_stopping", f"is {early_stopping!r}",
                          expected=f"one of {EARLY_STOPPING}")
    if not isinstance(store_intermediate_parameters, bool | np.bool_):
        raise input_error("store_intermediate_parameters", f"is {store_intermediate_parameters!r}",
                          expected="True or False")
    fixed = check_names("fixed_pars", fixed_pars, labels)
    shared = check_names("shared_pars", shared_pars, labels)
    both = sorted(set(fixed) & set(shared))
    if both:
        raise input_error("fixed_pars, shared_pars", f"both name {both}",
                          expected="each parameter fixed, shared, or neither",
                          fix="remove it from one of the two lists")
    index = {label: i for i, label in enumerate(labels)}
    return GradientConfig(
        labels=tuple(labels), fixed=tuple(index[n] for n in fixed),
        shared=tuple(index[n] for n in shared), max_n_iterations=max_it,
        min_n_iterations=min_it, lag=lag, r2_atol=atol, early_stopping=str(early_stopping),
        noise_model=str(noise_model), store_intermediate=bool(store_intermediate_parameters),
        block_steps=100)


@dataclass(frozen=True)
class OptimizerSpec:
    """An optax optimizer, with a key that identifies it for caching and provenance.

    Attributes
    ----------
    optimizer : optax.GradientTransformation
        What updates the parameters.
    key : tuple
        ``("adam", learning_rate, kwargs...)`` for the default Adam, else the
        optimizer's ``id`` (a user optimizer is cached per object).
    description : str
        Stable text for provenance and job fingerprints.
    """

    optimizer: Any = field(compare=False, hash=False)
    key: tuple
    description: str

    def __reduce__(self) -> Any:
        if self.key[0] == "adam":  # rebuild on the worker: closures need not pickle
            kwargs = dict(self.key[2])
            return (optimizer_spec, (None, self.key[1], kwargs))
        return (OptimizerSpec, (self.optimizer, self.key, self.description))


def _adam_names() -> set[str]:
    import optax

    return set(inspect.signature(optax.adam).parameters) - {"learning_rate"}


def optimizer_spec(optimizer: Any, learning_rate: Any, kwargs: Mapping[str, Any]) -> OptimizerSpec:
    """The optimizer of a fit: ``optimizer`` (any optax optimizer), or Adam with ``kwargs``.

    Parameters
    ----------
    optimizer : optax.GradientTransformation or None
        Used as given (``learning_rate`` and ``kwargs`` must then be unused).
    learning_rate : float
        Adam's learning rate when ``optimizer`` is None.
    kwargs : mapping
        Further ``optax.adam`` keywords (``b1``, ``b2``, ``eps``, ...); the
        keras names braincoder forwards (``beta_1``, ``beta_2``, ``epsilon``)
        are translated. Anything else raises.
    """
    import optax

    if optimizer is not None:
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise input_error("optimizer", f"is a {type(optimizer).__name__}",
                              expected="an optax optimizer (an optax.GradientTransformation)",
                              fix="pass e.g. optimizer=optax.adam(0.01), or None for Adam")
        if kwargs:
            raise input_error("**kwargs", f"{sorted(kwargs)} were given with an optimizer",
                              expected="Adam keywords only when optimizer is None",
                              fix="configure the optimizer you pass instead")
        names = [getattr(getattr(optimizer, part), "__qualname__", "?")
                 for part in ("init", "update")]
        return OptimizerSpec(optimizer, ("custom", id(optimizer)), "optax:" + ",".join(names))
    rate = check_float("learning_rate", learning_rate)
    if rate <= 0:
        raise input_error("learning_rate", f"is {rate!r}", expected="a positive number")
    allowed = _adam_names()
    translated: dict[str, Any] = {}
    unknown = []
    for name, value in kwargs.items():
        target = KERAS_ADAM_NAMES.get(name, name)
        if target not in allowed:
            unknown.append(name)
        else:
            translated[target] = value
    if unknown:
        raise input_error("**kwargs", f"has unknown keywords {sorted(unknown)}",
                          expected=f"optax.adam keywords {sorted(allowed)} (or the keras names "
                          f"{sorted(KERAS_ADAM_NAMES)})",
                          fix="check the spelling, or pass optimizer=<an optax optimizer>")
    items = tuple(sorted(translated.items()))
    try:
        hash(items)
    except TypeError as err:
        raise input_error("**kwargs", "has unhashable values", expected="numbers or flags") from err
    opt = optax.adam(rate, **translated)
    extra = "".join(f", {k}={v!r}" for k, v in items)
    text = f"adam(learning_rate={rate:g}{extra})"
    return OptimizerSpec(opt, ("adam", rate, items), text)
