"""``simulate``: a neural-mass model on a connectome, one run or a sweep, labeled.

The result is a Dataset ``(time, region, *sweep_dims)`` with one variable per
recorded state. A sweep runs chunk by chunk (one batched, jitted JAX program each):
in memory, as lazy dask tasks (``lazy=True``), or into a resumable Zarr store
(``store=...``) whose units run on the configured dask scheduler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import input_error
from xneuro.core.jobs import run_resumable
from xneuro.core.progress import progress_bar
from xneuro.core.provenance import stamp
from xneuro.mass.coupling import Coupling
from xneuro.mass.integrators import STABILITY_LIMIT, get_integrator
from xneuro.mass.kernel import Spec, max_rate, stability_bound
from xneuro.mass.models.base import TIME_SCALE, Model
from xneuro.mass.network import as_network
from xneuro.mass.noise import Noise
from xneuro.mass.sweep import Setup, SweepGrid, chunk_count, resolve_sweep

__all__ = ["simulate"]

log = logging.getLogger("xneuro.mass.simulate")


def _steps(value: float, dt: float, argument: str) -> int:
    ratio = value / dt
    count = round(ratio)
    if count < 1 or abs(ratio - count) > 1e-6 * max(1.0, ratio):
        raise input_error(
            argument, f"is {value:g} s, not a whole number of steps of dt={dt:g} s",
            expected=f"a positive multiple of dt (e.g. {max(1, count) * dt:g})",
            fix=f"round {argument} to a multiple of dt",
        )
    return int(count)


def _positive(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating) \
            or not np.isfinite(value) or value <= 0:
        raise input_error(argument, f"is {value!r}", expected="a positive number of seconds")
    return float(value)


def _initial(model: Model, initial: Mapping[str, Any] | None, n: int, seed: int) -> dict:
    state = model.initial_state(n, seed)
    if initial is not None:
        if not isinstance(initial, Mapping):
            raise input_error("initial", f"is a {type(initial).__name__}",
                              expected=f"a dict over states {list(model.states)}")
        unknown = sorted(set(initial) - set(model.states))
        if unknown:
            raise input_error("initial", f"has unknown states {unknown}",
                              expected=f"states of {model.name}: {list(model.states)}")
        for key, value in initial.items():
            if isinstance(value, xr.DataArray):
                value = value.values
            array = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
            state[key] = array
    for key, array in state.items():
        if not np.all(np.isfinite(array)):
            raise input_error(
                f"initial[{key!r}]", "has NaN or infinite values",
                expected="a finite initial state in every region",
                fix="replace the NaN values (e.g. with the model's resting state)",
            )
    return state


def _check_stability(spec: Spec, model: Model, coupling: Coupling, setup: Setup,
                     grid: SweepGrid) -> None:
    corners: list[dict[str, np.ndarray]] = [{}]
    for dim in grid.dims[:4]:
        values = grid.values[dim]
        corners = [{**c, dim: np.array([v])} for c in corners for v in (values.min(), values.max())]
    rate = 0.0
    for corner in corners:
        p, c, _ = setup._arrays(corner, 1)
        rate = max(rate, max_rate(model, coupling, {k: v[0] for k, v in p.items()},
                                  {k: v[0] for k, v in c.items()}, setup.state0, setup.weights))
    bound = stability_bound(spec.integrator, rate)
    if spec.dt > bound:
        scale = TIME_SCALE[spec.time_unit]
        raise input_error(
            "dt",
            f"{spec.dt / scale:g} s is above the stability bound of the {spec.integrator} "
            f"scheme for this model: dt * |lambda_max| must stay below "
            f"{STABILITY_LIMIT[spec.integrator]:g} and |lambda_max| = {rate * scale:.4g} 1/s "
            "at the initial state",
            expected=f"dt <= {bound / scale:.3g} s",
            fix=f"pass dt={_nice(bound / scale / 2)} or smaller",
        )


def _nice(value: float) -> str:
    exponent = np.floor(np.log10(value))
    return f"{np.floor(value / 10**exponent) * 10**exponent:g}"


def _plan(
    conn: xr.Dataset | xr.DataArray | np.ndarray,
    model: Model,
    duration: float,
    dt: float = 1e-4,
    *,
    coupling: Coupling | None = None,
    delays: bool | np.ndarray | xr.DataArray = False,
    speed: float | None = None,
    noise: Noise | None = None,
    integrator: str = "euler",
    seed: int = 0,
    sample_every: float = 1e-3,
    transient: float = 0.0,
    sweep: Mapping[str, Sequence[float]] | None = None,
    initial: Mapping[str, Any] | None = None,
    variables: Sequence[str] | None = None,
    store: str | os.PathLike[str] | None = None,
    fresh: bool = False,
    lazy: bool = False,
    points_per_chunk: int = 64,
    dtype: str | None = None,
    progress: bool | None = None,
    check_stability: bool = True,
) -> dict[str, Any]:
    """Check every argument and build the chunk setup (see :func:`simulate`)."""
    if not isinstance(model, Model):
        raise input_error("model", f"is a {type(model).__name__}",
                          expected="a model instance such as xneuro.mass.Hopf()",
                          fix="instantiate the class: Hopf(), not Hopf")
    coupling = model.default_coupling() if coupling is None else coupling
    if not isinstance(coupling, Coupling):
        raise input_error("coupling", f"is a {type(coupling).__name__}",
                          expected="Diffusive(k=...), Additive(...) or Sine(...)")
    if noise is not None and not isinstance(noise, Noise):
        raise input_error("noise", f"is a {type(noise).__name__}",
                          expected="GaussianNoise(...), OUNoise(...) or None")
    get_integrator(integrator)
    duration = _positive(duration, "duration")
    dt = _positive(dt, "dt")
    sample_every = _positive(sample_every, "sample_every")
    every = _steps(sample_every, dt, "sample_every")
    n_samples = _steps(duration, sample_every, "duration")
    n_transient = 0 if not transient else _steps(float(transient), sample_every, "transient")
    if not isinstance(points_per_chunk, int) or points_per_chunk < 1:
        raise input_error("points_per_chunk", f"is {points_per_chunk!r}",
                          expected="a positive int")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise input_error("seed", f"is {seed!r}", expected="an int")
    dtype = resolve_dtype(dtype)
    network = as_network(conn, delays=delays, speed=speed, dt=dt,
                         duration=duration + (n_transient * sample_every))
    n = network.n
    record = tuple(model.states if variables is None else variables)
    unknown = sorted(set(record) - set(model.states))
    if unknown or not record:
        raise input_error("variables", f"has {unknown or 'nothing'}",
                          expected=f"states of {model.name}: {list(model.states)}")
    noise_states: tuple[str, ...] = ()
    if noise is not None:
        noise_states = noise.states or model.noise_states
        bad = sorted(set(noise_states) - set(model.states))
        if bad:
            raise input_error("noise.states", f"has {bad}",
                              expected=f"states of {model.name}: {list(model.states)}")
    grid = resolve_sweep(sweep, {
        "model": model.params, "coupling": coupling.params,
        "noise": {} if noise is None else noise.params,
    })
    scale = TIME_SCALE[model.time_unit]
    regions = network.regions
    spec = Spec(
        model_cls=type(model), time_unit=model.time_unit,
        coupling_cls=type(coupling), coupling_static=coupling.static(),
        noise_kind="" if noise is None else noise.kind, noise_states=tuple(noise_states),
        integrator=integrator, n=n, dt=dt * scale, every=every, n_samples=n_samples,
        n_transient=n_transient, buffer=network.buffer, record=record, dtype=dtype,
    )
    nz = {} if noise is None else {
        k: (v * scale if k == "tau" else v) for k, v in noise.params.items()}
    times = (n_transient + np.arange(1, n_samples + 1)) * every * dt
    setup = Setup(
        spec=spec, p=model.resolve(n, regions), c=dict(coupling.params), nz=nz,
        state0=_initial(model, initial, n, int(seed)), seed=int(seed),
        weights=network.weights, delays=network.delays, grid=grid,
        points_per_chunk=points_per_chunk, times=times,
    )
    if check_stability:
        _check_stability(spec, model, coupling, setup, grid)
    settings = {
        **model.settings(), "coupling": coupling.settings(),
        "noise": None if noise is None else noise.settings(),
        "integrator": integrator, "dt": dt, "duration": duration,
        "sample_every": sample_every, "transient": n_transient * sample_every,
        "seed": int(seed), "dtype": dtype, "variables": list(record),
        "sweep": {d: grid.values[d].tolist() for d in grid.dims},
        "network": network.digest(), "max_delay": network.max_delay,
    }
    coords = {"time": ("time", times, {"units": "s"}), "region": regions,
              **{d: (d, grid.values[d]) for d in grid.dims}}
    attrs = {"model": model.name, "time_unit_of_parameters": model.time_unit,
             "max_delay": network.max_delay, "dt": dt}
    dims = ("time", "region", *grid.dims)
    unit_dim = grid.unit_dim()
    unit_size = grid.unit_size(points_per_chunk)
    var_attrs = {name: {"units": model.state_units.get(name, "1")} for name in record}

    return {"setup": setup, "settings": settings, "coords": coords, "attrs": attrs,
            "dims": dims, "unit_dim": unit_dim, "unit_size": unit_size,
            "var_attrs": var_attrs, "record": record, "grid": grid, "n": n, "times": times,
            "dtype": dtype}


def simulate(
    conn: xr.Dataset | xr.DataArray | np.ndarray,
    model: Model,
    duration: float,
    dt: float = 1e-4,
    *,
    coupling: Coupling | None = None,
    delays: bool | np.ndarray | xr.DataArray = False,
    speed: float | None = None,
    noise: Noise | None = None,
    integrator: str = "euler",
    seed: int = 0,
    sample_every: float = 1e-3,
    transient: float = 0.0,
    sweep: Mapping[str, Sequence[float]] | None = None,
    initial: Mapping[str, Any] | None = None,
    variables: Sequence[str] | None = None,
    store: str | os.PathLike[str] | None = None,
    fresh: bool = False,
    lazy: bool = False,
    points_per_chunk: int = 64,
    dtype: str | None = None,
    progress: bool | None = None,
    check_stability: bool = True,
) -> xr.Dataset:
    """Simulate a neural-mass model on a connectome, optionally over a parameter sweep.

    Parameters
    ----------
    conn : Dataset, DataArray or ndarray
        Connectome Dataset (``weights`` ``(region, region_)``, ``lengths`` in mm
        for delays) as from :func:`xneuro.mass.connectome`, or a weight matrix
        (row = target region, column = source).
    model : Model
        E.g. ``Hopf(a=-0.02)``, ``JansenRit()``.
    duration : float
        Recorded time in seconds (after ``transient``).
    dt : float, default 1e-4
        Integration step in seconds.
    coupling : Coupling, optional
        ``Diffusive(k=...)``, ``Additive(...)``, ``Sine(...)``; default the
        model's :meth:`~xneuro.mass.models.Model.default_coupling`.
    delays : bool, array or DataArray, default False
        ``True``: tract lengths / ``speed``; or an ``(n, n)`` matrix of delays
        in seconds. Delays are rounded to whole steps.
    speed : float, optional
        Conduction speed in m/s for ``delays=True`` (default 20).
    noise : Noise, optional
        ``GaussianNoise(sigma)`` or ``OUNoise(sigma, tau)``; none by default.
    integrator : {"euler", "heun", "rk4"}, default "euler"
        Step scheme (stochastic Euler-Maruyama / Heun with additive noise).
    seed : int, default 0
        Seeds the initial state and the noise. Each sweep point draws its own
        noise (the key folds in the point's index in the whole grid), so the
        same point gives the same result whatever the chunking.
    sample_every : float, default 1e-3
        Output interval in seconds (a multiple of ``dt``); only these samples
        are kept in memory.
    transient : float, default 0.0
        Seconds simulated and discarded before recording (multiple of ``sample_every``).
    sweep : dict, optional
        ``{name: values}``: each name (a model, coupling or noise parameter,
        prefixed as ``"coupling.k"`` where ambiguous) becomes a dim.
    initial : dict, optional
        Initial values per state (scalar or per region); other states take
        the model's seeded random initial state.
    variables : sequence of str, optional
        States to record (default all).
    store : path, optional
        Write the result to this Zarr store, chunk by chunk, as a resumable
        job (:func:`xneuro.core.jobs.run_resumable`); the same call resumes
        an interrupted sweep. Returns the store opened lazily.
    fresh : bool, default False
        With ``store``: discard an existing store and start over.
    lazy : bool, default False
        Return dask-backed variables, one task per chunk (no computation now).
    points_per_chunk : int, default 64
        Sweep points per batched JAX program and per dask task.
    dtype : {"float32", "float64"}, optional
        Precision (default: the ``dtype`` option, float32).
    progress : bool, optional
        Show a progress bar over chunks.
    check_stability : bool, default True
        Refuse a ``dt`` above the scheme's stability bound at the initial state.

    Returns
    -------
    Dataset
        ``(time, region, *sweep_dims)``, one variable per recorded state,
        coords ``time`` (s), ``region`` and the sweep values.

    Raises
    ------
    InputError
        For a bad connectome (non-square, negative), a delay not shorter than
        the simulation, ``dt`` above the stability bound, an unknown sweep
        parameter or NaN in the initial state.
    DivergenceError
        When a state becomes NaN/inf during the run.

    Examples
    --------
    >>> conn = xneuro.mass.connectome("hcp")  # doctest: +SKIP
    >>> sim = conn.mass.simulate(Hopf(a=-0.02, omega=conn.omega, time_unit="s"),
    ...                          duration=60.0, dt=1e-3, sweep={"k": [0.1, 0.5]})  # doctest: +SKIP
    """
    plan = _plan(
        conn, model, duration, dt, coupling=coupling, delays=delays, speed=speed, noise=noise,
        integrator=integrator, seed=seed, sample_every=sample_every, transient=transient,
        sweep=sweep, initial=initial, variables=variables, store=store, fresh=fresh, lazy=lazy,
        points_per_chunk=points_per_chunk, dtype=dtype, progress=progress,
        check_stability=check_stability,
    )
    setup, settings, coords, attrs = plan["setup"], plan["settings"], plan["coords"], plan["attrs"]
    dims, unit_dim, unit_size = plan["dims"], plan["unit_dim"], plan["unit_size"]
    var_attrs, record, grid, n = plan["var_attrs"], plan["record"], plan["grid"], plan["n"]
    times, dtype = plan["times"], plan["dtype"]
    if store is not None:
        template = xr.Dataset(
            {name: (dims, dsa.zeros((len(times), n, *grid.shape), dtype=dtype,
                                    chunks=(len(times), n, *grid.shape)), var_attrs[name])
             for name in record},
            coords=coords, attrs=attrs,
        )
        if unit_dim is None:
            template = template.expand_dims(point=[0], axis=-1)
            unit_dim = "point"
        unit = _Unit(setup, unit_dim if grid.dims else None, dtype)
        result = run_resumable(
            store, template, unit, settings=settings, unit_dim=unit_dim, unit_size=unit_size,
            function="xneuro.mass.simulate", fresh=fresh, progress=progress,
        )
        return result.isel(point=0, drop=True) if "point" in result.dims else result

    if lazy:
        blocks: dict[str, list[Any]] = {name: [] for name in record}
        for i in range(chunk_count(grid, unit_size)):
            region = slice(i * unit_size, (i + 1) * unit_size) if unit_dim else None
            task = dask.delayed(setup.compute, pure=True)(unit_dim, region,
                                                          dask_key_name=None)
            shape = (len(times), n, *grid.block_shape(unit_dim, region))
            for name in record:
                blocks[name].append(dsa.from_delayed(task[name], shape, dtype=dtype))
        axis = dims.index(unit_dim) if unit_dim else 0
        data = {name: (dims, dsa.concatenate(blocks[name], axis=axis) if unit_dim
                       else blocks[name][0], var_attrs[name]) for name in record}
    else:
        pieces: dict[str, list[np.ndarray]] = {name: [] for name in record}
        count = chunk_count(grid, unit_size)
        for i in progress_bar(range(count), desc="sweep chunks", progress=progress):
            region = slice(i * unit_size, (i + 1) * unit_size) if unit_dim else None
            out = setup.compute(unit_dim, region)
            for name in record:
                pieces[name].append(out[name])
        axis = dims.index(unit_dim) if unit_dim else 0
        data = {name: (dims, np.concatenate(pieces[name], axis=axis) if unit_dim
                       else pieces[name][0], var_attrs[name]) for name in record}
    result = xr.Dataset(data, coords=coords, attrs=attrs)
    result["time"].attrs["units"] = "s"
    return stamp(result, "xneuro.mass.simulate", settings)


class _Unit:
    """``compute_unit`` of the resumable job (a picklable callable)."""

    def __init__(self, setup: Setup, unit_dim: str | None, dtype: str) -> None:
        self.setup, self.unit_dim, self.dtype = setup, unit_dim, dtype

    def __call__(self, index: int, region: slice) -> xr.Dataset:
        setup = self.setup
        dims = ("time", "region", *setup.grid.dims)
        if self.unit_dim is None:
            out = setup.compute(None, None)
            return xr.Dataset({k: ((*dims, "point"), v[..., None].astype(self.dtype))
                               for k, v in out.items()})
        out = setup.compute(self.unit_dim, region)
        return xr.Dataset({k: (dims, v.astype(self.dtype)) for k, v in out.items()},
                          coords={self.unit_dim: setup.grid.values[self.unit_dim][region]})
