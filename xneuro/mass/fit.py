"""Gradient-based fitting of a few global parameters to an empirical FC (JAX autodiff).

The loss is ``1 - r`` between the upper triangles of the simulated FC (of the
model's observable, after a transient) and the target FC; its gradient flows
through the whole simulation (``lax.scan``) with the noise realization held
fixed (common random numbers), and optax's Adam takes the steps.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from xneuro.core.backend import import_optional
from xneuro.core.errors import input_error
from xneuro.core.progress import progress_bar
from xneuro.mass.kernel import Spec, _program, delay_base
from xneuro.mass.models.base import TIME_SCALE, Model
from xneuro.mass.simulate import _plan

__all__ = ["FitResult", "fit"]

log = logging.getLogger("xneuro.mass.fit")


@dataclass
class FitResult:
    """Result of :func:`fit`.

    Attributes
    ----------
    params : dict
        Fitted values of the free parameters.
    loss : float
        Final loss ``1 - r(FC_sim, FC_target)``.
    history : Dataset
        ``loss`` and each parameter over ``iteration``.
    """

    params: dict[str, float]
    loss: float
    history: xr.Dataset


def _observable(model: Model, out: dict[str, Any]) -> Any:
    if model.output in out:
        return out[model.output]
    if model.output == "E-I":
        return out["E"] - out["I"]
    return out[model.states[0]]


def _fc_loss(x: Any, target: Any, iu: tuple[np.ndarray, np.ndarray]) -> Any:
    z = x - jnp.mean(x, axis=0)
    z = z / jnp.sqrt(jnp.sum(z * z, axis=0) + 1e-12)
    sim = (z.T @ z)[iu]
    a = sim - jnp.mean(sim)
    b = target - jnp.mean(target)
    return 1.0 - jnp.sum(a * b) / jnp.sqrt(jnp.sum(a * a) * jnp.sum(b * b))


@functools.lru_cache(maxsize=16)
def _loss_program(spec: Spec, targets: tuple[tuple[str, str, str], ...]) -> Any:
    """Jitted ``value_and_grad`` of the FC loss (cached: repeated fits reuse the compile)."""
    run = _program(spec)
    model = spec.model()
    iu = np.triu_indices(spec.n, k=1)
    tau_scale = TIME_SCALE[spec.time_unit]

    def loss(theta, p, c, nz, state0, seed, W, base, dt, target):
        p = {k: v[:, None] for k, v in p.items()}
        c = {k: jnp.reshape(v, (1,)) for k, v in c.items()}
        nz = {k: jnp.reshape(v, (1,)) for k, v in nz.items()}
        for name, group, key in targets:
            value = jnp.reshape(theta[name], (1,))
            if group == "model":
                p[key] = jnp.broadcast_to(value, (spec.n, 1))
            elif group == "coupling":
                c[key] = value
            else:
                nz[key] = value * tau_scale if key == "tau" else value
        out = run(p, c, nz, state0, seed, jnp.zeros(1, jnp.uint32), W, base, dt)
        out = {k: v[..., 0] for k, v in out.items()}
        return _fc_loss(_observable(model, out), target, iu)

    return jax.jit(jax.value_and_grad(loss))


def fit(
    conn: xr.Dataset | xr.DataArray | np.ndarray,
    model: Model,
    target_fc: xr.DataArray | np.ndarray,
    params: Mapping[str, float],
    *,
    duration: float,
    dt: float = 1e-3,
    steps: int = 50,
    learning_rate: float = 0.05,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    progress: bool | None = None,
    **simulate_kwargs: Any,
) -> FitResult:
    """Fit global parameters so that the simulated FC matches ``target_fc``.

    Parameters
    ----------
    conn : Dataset, DataArray or ndarray
        The connectome (as for :func:`~xneuro.mass.simulate`).
    model : Model
        The model; its other parameters stay fixed.
    target_fc : DataArray or ndarray
        Empirical FC ``(region, region_)``.
    params : dict
        Free parameters (model, coupling or noise names, as in ``sweep``) and
        their starting values, e.g. ``{"k": 0.3}``.
    duration : float
        Simulated seconds per loss evaluation (after ``transient``, if given).
    dt : float, default 1e-3
        Integration step (s).
    steps : int, default 50
        Adam iterations.
    learning_rate : float, default 0.05
        Adam step size.
    bounds : dict, optional
        ``{name: (low, high)}``; parameters are clipped into them after each step.
    progress : bool, optional
        Show a progress bar.
    **simulate_kwargs
        Passed to :func:`~xneuro.mass.simulate` (``coupling``, ``noise``,
        ``seed``, ``sample_every``, ``transient``, ``delays``, ...). The noise
        realization is fixed by ``seed`` during the fit.

    Returns
    -------
    FitResult
        The fitted values, final loss and history.
    """
    optax = import_optional("optax", extra="jax", purpose="mass.fit")
    if not params:
        raise input_error("params", "is empty", expected="{name: starting value}")
    if not isinstance(steps, int) or steps < 1:
        raise input_error("steps", f"is {steps!r}", expected="a positive int")
    # Build the run once through simulate's checks, with a one-point "sweep" per parameter.
    probe = {name: [float(value)] for name, value in params.items()}
    plan = _plan(conn, model, duration, dt, sweep=probe, **simulate_kwargs)
    setup = plan["setup"]
    spec = setup.spec
    target = np.asarray(target_fc.values if isinstance(target_fc, xr.DataArray) else target_fc,
                        dtype=float)
    if target.shape != (spec.n, spec.n):
        raise input_error("target_fc", f"has shape {target.shape}",
                          expected=f"({spec.n}, {spec.n}) like the connectome")
    targets = tuple((name, *setup.grid.targets[dim])
                    for name, dim in zip(params, setup.grid.dims, strict=True))
    value_and_grad = _loss_program(spec, targets)
    vals = {d: np.asarray([0.0]) for d in setup.grid.dims}
    p, c, nz = (({k: v[0] for k, v in tree.items()}) for tree in setup._arrays(vals, 1))
    dtype = np.dtype(spec.dtype)
    cast = lambda tree: {k: np.asarray(v, dtype) for k, v in tree.items()}
    data = (cast(p), cast(c), cast(nz), cast(setup.state0), np.uint32(setup.seed),
            np.asarray(setup.weights, dtype),
            np.zeros(1, np.int32) if setup.delays is None else delay_base(setup.delays,
                                                                           spec.buffer),
            np.asarray(spec.dt, dtype), np.asarray(target[np.triu_indices(spec.n, k=1)], dtype))
    list(params)
    with jax.enable_x64(dtype == np.float64):
        return _optimize(value_and_grad, data, params, optax.adam(learning_rate), steps,
                         bounds, progress, dtype)


def _optimize(value_and_grad: Any, data: tuple[Any, ...], params: Mapping[str, float],
              optimizer: Any, steps: int, bounds: Mapping[str, tuple[float, float]] | None,
              progress: bool | None, dtype: np.dtype) -> FitResult:
    import optax

    names = list(params)
    theta = {name: jnp.asarray(float(value), dtype) for name, value in params.items()}
    state = optimizer.init(theta)
    history: dict[str, list[float]] = {"loss": [], **{name: [] for name in names}}
    for _ in progress_bar(range(steps), desc="mass.fit", progress=progress):
        loss, grads = value_and_grad(theta, *data)
        for name in names:
            history[name].append(float(theta[name]))
        history["loss"].append(float(loss))
        if not np.isfinite(float(loss)):
            where = {name: history[name][-1] for name in names}
            raise input_error("params", f"gave a non-finite loss at {where}",
                              fix="start closer, lower learning_rate or dt")
        updates, state = optimizer.update(grads, state)
        theta = optax.apply_updates(theta, updates)
        for name, (low, high) in (bounds or {}).items():
            theta[name] = jnp.clip(theta[name], low, high)
    final = float(value_and_grad(theta, *data)[0])
    ds = xr.Dataset({k: ("iteration", np.asarray(v)) for k, v in history.items()},
                    coords={"iteration": np.arange(steps)})
    return FitResult({name: float(theta[name]) for name in names}, final, ds)
