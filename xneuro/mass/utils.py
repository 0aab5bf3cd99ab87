"""Small building blocks of neural-mass models, with the signatures of brainmass's utilities.

These are pure functions on array-likes (numpy or JAX): they work inside
``jax.jit``/``vmap`` and on plain numbers alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

import numpy as np

from xneuro.core.errors import input_error

__all__ = [
    "Array",
    "Initializer",
    "Parameter",
    "bounded_input",
    "delay_index",
    "delay_steps",
    "process_sequence",
    "sigmoid",
    "sys2nd",
]

#: Any array-like input: a NumPy or JAX array, a scalar, or a nested sequence of numbers.
Array = Any
#: A state or parameter initializer: an array-like value, or a callable ``shape -> array``.
Initializer = Union[Callable[..., Any], Array]  # noqa: UP007 - a public alias, as in the seed
#: A model parameter: an array-like value (scalar, per-region array, DataArray over
#: ``region``) or an initializer callable ``shape -> array``.
Parameter = Union[Callable[..., Any], Array]  # noqa: UP007


def _xp(*values: Any) -> Any:
    """jax.numpy when any value is a JAX array or tracer, numpy otherwise."""
    for value in values:
        if type(value).__module__.startswith(("jax", "jaxlib")):
            import jax.numpy as jnp

            return jnp
    return np


def sys2nd(A: Array, a: Array, u: Array, x: Array, v: Array) -> Array:
    r"""Acceleration of a second-order linear (synaptic) system.

    The kinetic block of Jansen-Rit-type models,
    :math:`\ddot x + 2a\dot x + a^2 x = A\,a\,u`, written with :math:`v=\dot x` as

    .. math:: \dot v = A\,a\,u - 2 a v - a^2 x .

    Parameters
    ----------
    A : array-like
        Amplitude gain (e.g. the maximal post-synaptic potential, mV).
    a : array-like
        Rate constant (inverse time).
    u : array-like
        Input (e.g. a firing rate).
    x : array-like
        Position state (the post-synaptic potential).
    v : array-like
        Velocity state, ``dx/dt``.

    Returns
    -------
    array-like
        ``dv/dt``.

    Notes
    -----
    The seed's prose example calls ``sys2nd(v, acc)`` with two arguments; the
    signature (five arguments, returning the acceleration) is what is
    implemented here.

    Examples
    --------
    >>> float(sys2nd(3.25, 100.0, 2.0, 0.1, 1.0))
    350.0
    """
    return A * a * u - 2.0 * a * v - a * a * x


def sigmoid(x: Array, vmax: Array, v0: Array, r: Array) -> Array:
    r"""Potential-to-rate sigmoid, :math:`S(x) = v_{max} / (1 + e^{r (v_0 - x)})`.

    Parameters
    ----------
    x : array-like
        Membrane potential.
    vmax : array-like
        Maximal firing rate.
    v0 : array-like
        Potential at half the maximal rate.
    r : array-like
        Steepness.

    Returns
    -------
    array-like
        The rate, in ``(0, vmax)``.

    Notes
    -----
    The seed's prose shows a one-argument logistic; the four-argument signature
    is implemented. ``sigmoid(x, 1, 0, 1)`` is the plain logistic.

    Examples
    --------
    >>> float(sigmoid(6.0, 5.0, 6.0, 0.56))
    2.5
    """
    xp = _xp(x, vmax, v0, r)
    return vmax / (1.0 + xp.exp(r * (v0 - x)))


def bounded_input(x: Array, bound: float = 500.0) -> Array:
    """Smoothly bound an input with ``bound * tanh(x / bound)``.

    Parameters
    ----------
    x : array-like
        Input signal.
    bound : float, default 500.0
        The largest magnitude the output approaches.

    Returns
    -------
    array-like
        The bounded input, in ``(-bound, bound)``; close to ``x`` for ``|x| << bound``.

    Notes
    -----
    The seed's prose shows ``lower=``/``upper=`` clipping; the signature
    ``bounded_input(x, bound=500.0)`` (a symmetric tanh bound) is implemented.

    Examples
    --------
    >>> round(float(bounded_input(500.0)), 4)
    380.7971
    """
    if not np.all(np.asarray(bound) > 0):
        raise input_error("bound", f"is {bound!r}", expected="a positive number")
    xp = _xp(x)
    return bound * xp.tanh(x / bound)


_REDUCERS = ("stack", "last", "first", "avg", "mean", "max", "min")


def _tree_map(function: Callable[[Any], Any], tree: Any) -> Any:
    if isinstance(tree, dict):
        return {key: _tree_map(function, value) for key, value in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # namedtuple
        return type(tree)(*(_tree_map(function, value) for value in tree))
    if isinstance(tree, list | tuple):
        return type(tree)(_tree_map(function, value) for value in tree)
    return function(tree)


def process_sequence(data: Any, mode: str | Callable[[Any], Any] = "stack") -> Any:
    """Reduce a stacked PyTree along its leading (item) axis.

    Parameters
    ----------
    data : PyTree
        Nested dicts, lists and tuples whose leaves are arrays with the items
        enumerated along axis 0.
    mode : {"stack", "last", "first", "avg", "mean", "max", "min"} or callable
        ``"stack"`` returns ``data`` unchanged; ``"last"``/``"first"`` take one
        item; ``"avg"``/``"mean"``, ``"max"``, ``"min"`` reduce axis 0; a
        callable is applied to each leaf.

    Returns
    -------
    PyTree
        Same structure, leaves reduced.

    Raises
    ------
    InputError
        For an unknown ``mode``.

    Notes
    -----
    The seed's prose also shows ``process_sequence(model, inputs)``; the
    signature ``process_sequence(data, mode)`` is what is implemented.

    Examples
    --------
    >>> process_sequence({"x": np.array([1.0, 3.0])}, "mean")
    {'x': np.float64(2.0)}
    """
    if callable(mode):
        return _tree_map(mode, data)
    if mode not in _REDUCERS:
        raise input_error(
            "mode", f"is {mode!r}", expected=f"one of {list(_REDUCERS)} or a callable"
        )
    if mode == "stack":
        return data

    def reduce(leaf: Any) -> Any:
        xp = _xp(leaf)
        leaf = leaf if xp is not np else np.asarray(leaf)
        if mode == "last":
            return leaf[-1]
        if mode == "first":
            return leaf[0]
        if mode in ("avg", "mean"):
            return xp.mean(leaf, axis=0)
        return xp.max(leaf, axis=0) if mode == "max" else xp.min(leaf, axis=0)

    return _tree_map(reduce, data)


def delay_index(n: int) -> np.ndarray:
    """Source-index matrix addressing per-connection delays.

    Entry ``(i, j)`` is ``j``: row ``i`` (the target) reads source ``j`` at the
    delay ``D[i, j]``, so ``buffer[step - D, delay_index(n)]`` gathers every
    connection's delayed source in one indexing operation.

    Parameters
    ----------
    n : int
        Number of regions.

    Returns
    -------
    ndarray of int32, shape (n, n)
        Every row is ``arange(n)``.

    Notes
    -----
    The seed describes ``delay_index`` both as building this index matrix and as
    turning a delay into a buffer index; the second job is :func:`delay_steps`.

    Examples
    --------
    >>> delay_index(3)[1].tolist()
    [0, 1, 2]
    """
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise input_error("n", f"is {n!r}", expected="a positive int (number of regions)")
    return np.broadcast_to(np.arange(n, dtype=np.int32), (int(n), int(n))).copy()


def delay_steps(delays: Array, dt: float) -> np.ndarray:
    """Convert delays (seconds) into whole integration steps of the ring buffer.

    Parameters
    ----------
    delays : array-like
        Conduction delays in seconds (any shape), non-negative and finite.
    dt : float
        Integration step in seconds.

    Returns
    -------
    ndarray of int32
        ``round(delays / dt)``, the number of steps to look back.

    Examples
    --------
    >>> delay_steps([0.0, 0.00104], 1e-4).tolist()
    [0, 10]
    """
    values = np.asarray(delays, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise input_error(
            "delays",
            "has negative or non-finite entries",
            expected="non-negative, finite delays in seconds",
            fix="check the tract lengths and the conduction speed",
        )
    if not (isinstance(dt, int | float) and dt > 0):
        raise input_error("dt", f"is {dt!r}", expected="a positive step in seconds")
    return np.rint(values / dt).astype(np.int32)
