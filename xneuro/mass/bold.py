"""Balloon-Windkessel hemodynamics: neural activity -> BOLD, downsampled to a TR.

Friston et al. (2003) / Stephan et al. (2007) with the Friston 2003 constants:

.. math::
    \\dot s &= z - \\kappa s - \\gamma (f - 1), \\qquad \\dot f = s \\\\
    \\tau \\dot v &= f - v^{1/\\alpha}, \\qquad
    \\tau \\dot q = \\frac{f}{\\rho}\\big(1 - (1 - \\rho)^{1/f}\\big) - v^{1/\\alpha} \\frac{q}{v} \\\\
    y &= V_0 \\big(k_1 (1 - q) + k_2 (1 - q / v) + k_3 (1 - v)\\big),
    \\quad k_1 = 7\\rho,\\ k_2 = 2,\\ k_3 = 2\\rho - 0.2

starting at rest (``s = 0``, ``f = v = q = 1``), so zero input gives a BOLD of
exactly 0 (brainmass starts ``s`` at 1 and uses ``q/rho`` in ``k_2``, which
gives -0.0776 at rest). Time in seconds.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from xneuro.core.errors import input_error
from xneuro.core.parallel import map_units
from xneuro.core.provenance import stamp

__all__ = ["BALLOON", "balloon_kernel", "bold"]

log = logging.getLogger("xneuro.mass.bold")

#: Friston (2003) constants: gamma, kappa, alpha, tau (s), rho, V0.
BALLOON = {"gamma": 0.41, "kappa": 0.65, "alpha": 0.32, "tau": 0.98, "rho": 0.34, "V0": 0.02}


@functools.lru_cache(maxsize=16)
def _program(n_sub: int, every: int, h: float, constants: tuple[tuple[str, float], ...]) -> Any:
    c = dict(constants)
    k1, k2, k3 = 7.0 * c["rho"], 2.0, 2.0 * c["rho"] - 0.2

    def rhs(state, z):
        s, f, v, q = state
        flow = v ** (1.0 / c["alpha"])
        extraction = (1.0 - (1.0 - c["rho"]) ** (1.0 / f)) / c["rho"]
        return (z - c["kappa"] * s - c["gamma"] * (f - 1.0), s,
                (f - flow) / c["tau"], (f * extraction - flow * q / v) / c["tau"])

    def sample(state, z):
        def sub(st, _):
            d = rhs(st, z)
            return tuple(x + h * dx for x, dx in zip(st, d, strict=True)), None

        state, _ = jax.lax.scan(sub, state, None, length=n_sub)
        return state, state

    def run(z):  # z: (time, units)
        ones = jnp.ones(z.shape[1], z.dtype)
        state = (jnp.zeros_like(ones), ones, ones, ones)
        _, (_s, _f, v, q) = jax.lax.scan(sample, state, z)
        v, q = v[every - 1::every], q[every - 1::every]
        return c["V0"] * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))

    return jax.jit(run)


def balloon_kernel(z: np.ndarray, dt: float, tr: float, *, scale: float = 1.0,
                   max_step: float = 1e-3, **constants: float) -> np.ndarray:
    """BOLD of activity blocks (``(..., time)`` numpy, time last) sampled every ``tr``.

    Parameters
    ----------
    z : ndarray
        Neural activity, time on the last axis, sampled every ``dt`` seconds.
    dt : float
        Sampling interval of ``z`` (s).
    tr : float
        Output interval (s), a multiple of ``dt``.
    scale : float
        Multiplies ``z`` before it drives the balloon.
    max_step : float
        Largest Euler sub-step (s); each input sample is held over its sub-steps.
    **constants : float
        Overrides of :data:`BALLOON`.

    Returns
    -------
    ndarray
        ``(..., n_tr)`` BOLD, the value at the end of each TR.
    """
    every = round(tr / dt)
    n_sub = max(1, math.ceil(dt / max_step - 1e-9))
    lead = z.shape[:-1]
    flat = np.ascontiguousarray(np.moveaxis(z.reshape(-1, z.shape[-1]), -1, 0)) * scale
    program = _program(n_sub, every, dt / n_sub, tuple(sorted({**BALLOON, **constants}.items())))
    out = np.asarray(program(jnp.asarray(flat.astype(np.float32 if z.dtype == np.float32
                                                     else np.float64))))
    return np.moveaxis(out, 0, -1).reshape(*lead, out.shape[0])


def bold(
    sim: xr.Dataset | xr.DataArray,
    *,
    tr: float = 0.72,
    variable: str | None = None,
    scale: float = 1.0,
    transient: float = 0.0,
    max_step: float = 1e-3,
    **constants: float,
) -> xr.DataArray:
    """Balloon-Windkessel BOLD of a simulation, downsampled to ``tr``.

    Parameters
    ----------
    sim : Dataset or DataArray
        A :func:`~xneuro.mass.simulate` result (its model's observable drives
        the balloon: ``x`` for Hopf, ``E - I`` for Jansen-Rit, ...), or the
        activity itself with a ``time`` dim (s). Dask-backed input stays lazy;
        ``time`` must be one chunk.
    tr : float, default 0.72
        Repetition time of the output (s), a multiple of the sampling interval.
    variable : str, optional
        Which variable of a Dataset drives the balloon (default: the model's observable).
    scale : float, default 1.0
        Multiplies the activity before it drives the balloon.
    transient : float, default 0.0
        Seconds of BOLD dropped at the start (the hemodynamic settling).
    max_step : float, default 1e-3
        Largest integration sub-step (s).
    **constants : float
        Overrides of the balloon constants (:data:`BALLOON`).

    Returns
    -------
    DataArray
        ``(time, region, *sweep_dims)`` BOLD (fractional signal change) at the TR.

    Examples
    --------
    >>> b = bold(sim, tr=0.72)  # doctest: +SKIP
    """
    unknown = sorted(set(constants) - set(BALLOON))
    if unknown:
        raise input_error("constants", f"has unknown names {unknown}",
                          expected=f"names from {sorted(BALLOON)}")
    z = _activity(sim, variable)
    if "time" not in z.dims or z.sizes["time"] < 2:
        raise input_error("sim", f"has dims {z.dims}", expected="a 'time' dim with >= 2 samples")
    times = np.asarray(z["time"].values, dtype=float)
    dt = float(np.median(np.diff(times)))
    if not np.allclose(np.diff(times), dt, rtol=1e-6, atol=1e-9):
        raise input_error("sim.time", "is not evenly spaced", expected="a regular time grid")
    every = round(tr / dt)
    if every < 1 or abs(every * dt - tr) > 1e-6 * tr:
        raise input_error("tr", f"is {tr:g} s, not a multiple of the sampling interval {dt:g} s",
                          expected=f"a multiple of {dt:g} s",
                          fix="simulate with a sample_every that divides the TR")
    n_tr = z.sizes["time"] // every
    if n_tr < 1:
        raise input_error("tr", f"is longer than the simulation ({times[-1]:g} s)",
                          expected="a simulation of at least one TR")
    z = z.isel(time=slice(0, n_tr * every))
    dtype = np.float64 if z.dtype == np.float64 else np.float32
    out = map_units(
        balloon_kernel, z.rename(time="_time"), core_dims=[["_time"]],
        output_core_dims=[["_tr"]], output_sizes={"_tr": n_tr}, output_dtypes=[dtype],
        kwargs={"dt": dt, "tr": every * dt, "scale": scale, "max_step": max_step, **constants},
    )
    t_out = times[0] - dt + np.arange(1, n_tr + 1) * every * dt
    out = out.rename(_tr="time").assign_coords(time=("time", t_out, {"units": "s"}))
    out = out.transpose("time", *[d for d in z.dims if d != "time"])
    if transient:
        out = out.sel(time=slice(t_out[0] + transient - 1e-9, None))
    out.name = "bold"
    out.attrs = {"long_name": "BOLD (Balloon-Windkessel)", "units": "1",
                 "tr": round(every * dt, 12)}
    return stamp(out, "xneuro.mass.bold", {"tr": tr, "scale": scale, "transient": transient,
                                           "variable": variable, "constants": constants})


def _activity(sim: xr.Dataset | xr.DataArray, variable: str | None) -> xr.DataArray:
    if isinstance(sim, xr.DataArray):
        return sim
    if not isinstance(sim, xr.Dataset):
        raise input_error("sim", f"is a {type(sim).__name__}",
                          expected="a simulate() Dataset or a DataArray with a 'time' dim")
    if variable is not None:
        if variable not in sim:
            raise input_error("variable", f"is {variable!r}",
                              expected=f"one of {sorted(map(str, sim.data_vars))}")
        return sim[variable]
    from xneuro.mass.catalogue import model_class

    cls = model_class(sim.attrs.get("model", ""))
    if cls is not None:
        try:
            return cls(time_unit=sim.attrs.get("time_unit_of_parameters")).observe(sim)
        except KeyError:
            pass
    if len(sim.data_vars) == 1:
        return sim[next(iter(sim.data_vars))]
    raise input_error("variable", "is needed: the Dataset has several variables and no "
                      "known model", expected=f"one of {sorted(map(str, sim.data_vars))}")
