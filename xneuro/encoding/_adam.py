"""Adam on a pure JAX loss, with the best state kept and failed steps undone.

Used by the noise-covariance fit (:mod:`xneuro.encoding.noise`) and the
stimulus fit (:mod:`xneuro.encoding.stimulus_fitter`). One compiled
``lax.scan`` runs ``check_every`` steps; between scans Python checks early
stopping and updates the progress bar.

Each step evaluates the loss and its gradient at the current state. A step
whose loss or gradient is not finite (e.g. a Cholesky factorisation that
failed because the covariance stopped being positive definite) is a
*failure*: the best state so far is restored, Adam's moments are reset and the
learning rate is multiplied by ``shrink`` (braincoder: 0.9); its cost is
recorded as ``inf``. The result is the state of lowest loss ever evaluated.

Early stopping (braincoder's rule): after ``min_n_iterations`` steps, stop at
the first step whose cost improved on the cost ``lag`` steps before by less
than ``rtol`` times its magnitude.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from xneuro.core.errors import input_error
from xneuro.core.progress import progress_bar

__all__ = ["AdamResult", "check_schedule", "minimize"]

logger = logging.getLogger("xneuro.encoding.adam")


@dataclass
class AdamResult:
    """What :func:`minimize` found.

    Attributes
    ----------
    params : pytree
        The state of lowest loss.
    best_cost : float
        Its loss (``inf`` if no step succeeded).
    costs : numpy.ndarray
        The loss of every step (``inf`` for failed steps).
    n_failures : int
        Failed steps (each restored the best state and shrank the learning rate).
    learning_rate : float
        The learning rate at the end.
    """

    params: Any
    best_cost: float
    costs: np.ndarray
    n_failures: int
    learning_rate: float

    @property
    def n_iterations(self) -> int:
        """Steps taken."""
        return int(self.costs.size)


def check_schedule(max_n_iterations: Any, min_n_iterations: Any, lag: Any, rtol: Any,
                   learning_rate: Any) -> None:
    """Raise for a bad iteration schedule or learning rate."""
    for name, value, low in (("max_n_iterations", max_n_iterations, 1),
                             ("min_n_iterations", min_n_iterations, 0), ("lag", lag, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise input_error(name, f"is {value!r}", expected=f"an int >= {low}")
    for name, value in (("rtol", rtol), ("learning_rate", learning_rate)):
        if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or \
                value < 0 or (name == "learning_rate" and value == 0):
            raise input_error(name, f"is {value!r}", expected="a finite number > 0"
                              if name == "learning_rate" else "a finite number >= 0")


def _finite(tree: Any) -> Any:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


@functools.lru_cache(maxsize=32)
def _make_scan(loss: Callable[..., Any], shrink: float) -> Callable[..., Any]:
    """The compiled scan of Adam steps on ``loss(params, *args)`` (cached: ``loss`` must be
    hashable, e.g. a module-level function or a frozen dataclass, so that repeated fits of
    the same shapes reuse the compilation)."""
    optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=1.0)
    value_and_grad = jax.value_and_grad(loss)

    def step(carry: tuple, active: Any, args: tuple) -> tuple[tuple, Any]:
        params, state, best, best_cost, n_fail = carry
        cost, grads = value_and_grad(params, *args)
        ok = jnp.isfinite(cost) & _finite(grads)
        safe_grads = jax.tree_util.tree_map(lambda g: jnp.where(ok, g, 0.0), grads)
        updates, new_state = optimizer.update(safe_grads, state, params)
        moved = optax.apply_updates(params, updates)
        improved = ok & (cost < best_cost) & active
        best = jax.tree_util.tree_map(lambda b, p: jnp.where(improved, p, b), best, params)
        best_cost = jnp.where(improved, cost, best_cost)
        lr = state.hyperparams["learning_rate"]
        reset = optimizer.init(best)
        reset = reset._replace(hyperparams={**reset.hyperparams,
                                            "learning_rate": (lr * shrink).astype(lr.dtype)})
        params_next = jax.tree_util.tree_map(
            lambda m, b, p: jnp.where(active, jnp.where(ok, m, b), p), moved, best, params)
        state_next = jax.tree_util.tree_map(
            lambda n, r, s: jnp.where(active, jnp.where(ok, n, r), s), new_state, reset, state)
        n_fail = n_fail + (active & ~ok).astype(n_fail.dtype)
        recorded = jnp.where(ok, cost, jnp.inf)
        return (params_next, state_next, best, best_cost, n_fail), recorded

    @jax.jit
    def run(carry: tuple, active: Any, args: tuple) -> tuple[tuple, Any]:
        return jax.lax.scan(lambda c, a: step(c, a, args), carry, active)

    def init_state(params: Any, learning_rate: float) -> Any:
        state = optimizer.init(params)
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        return state._replace(hyperparams={**state.hyperparams, "learning_rate": jnp.asarray(
            learning_rate, dtype=dtype)})

    run.init_state = init_state
    return run


def _stop_at(costs: np.ndarray, start: int, min_n_iterations: int, lag: int,
             rtol: float) -> int | None:
    """The first step >= ``start`` where early stopping fires, or None."""
    for step in range(max(start, min_n_iterations, lag), costs.size):
        previous, current = costs[step - lag], costs[step]
        if np.isfinite(previous) and np.isfinite(current) and \
                previous - current < rtol * abs(previous):
            return step
    return None


def minimize(loss: Callable[..., Any], init: Any, args: tuple = (), *,
             learning_rate: float = 0.01,
             max_n_iterations: int = 1000, min_n_iterations: int = 100, lag: int = 100,
             rtol: float = 1e-6, shrink: float = 0.9, check_every: int = 50,
             progress: bool | None = None, desc: str = "adam") -> AdamResult:
    """Minimise ``loss(params)`` with Adam from ``init`` (see the module notes).

    Parameters
    ----------
    loss : callable
        Pure JAX scalar function ``loss(params, *args)`` of a pytree of arrays;
        hashable (a module-level function or a frozen dataclass) so that the
        compiled steps are reused by later calls with the same shapes.
    init : pytree
        Starting values (their dtype sets the precision).
    args : tuple
        Further arrays passed to ``loss`` (data: traced, not baked into the
        compiled code).
    learning_rate, max_n_iterations, min_n_iterations, lag, rtol
        Adam's step size, and the iteration schedule.
    shrink : float, default 0.9
        Factor of the learning rate after a failed step.
    check_every : int, default 50
        Steps per compiled scan (early stopping is checked between scans).
    progress : bool, optional
        Show a progress bar.
    desc : str
        Label of the bar.

    Returns
    -------
    AdamResult
    """
    check_schedule(max_n_iterations, min_n_iterations, lag, rtol, learning_rate)
    run = _make_scan(loss, float(shrink))
    leaf = jax.tree_util.tree_leaves(init)[0]
    carry = (init, run.init_state(init, learning_rate), init,
             jnp.asarray(jnp.inf, dtype=leaf.dtype), jnp.asarray(0))
    chunk = max(1, min(int(check_every), int(max_n_iterations)))
    costs = np.empty(0)
    n_chunks = math.ceil(max_n_iterations / chunk)
    with progress_bar(total=int(max_n_iterations), desc=desc, progress=progress) as bar:
        for index in range(n_chunks):
            active = jnp.arange(index * chunk, (index + 1) * chunk) < max_n_iterations
            carry, recorded = run(carry, active, tuple(args))
            done = int(np.asarray(active).sum())
            start = costs.size
            costs = np.concatenate([costs, np.asarray(recorded, dtype=float)[:done]])
            bar.update(done)
            stop = _stop_at(costs, start, min_n_iterations, lag, rtol)
            if stop is not None:
                costs = costs[:stop + 1]
                break
    _, state, best, best_cost, n_fail = carry
    result = AdamResult(best, float(best_cost), costs, int(n_fail),
                        float(state.hyperparams["learning_rate"]))
    logger.debug("adam: %d steps, best cost %.6g, %d failed steps", result.n_iterations,
                 result.best_cost, result.n_failures)
    return result
