"""The simulation kernel: one jitted JAX program per chunk of sweep points.

States are region-major blocks ``(n, points)``, carried together as one
``(states, n, points)`` array: the model equations act elementwise, the
instantaneous coupling is one ``W @ X`` matrix product for all points, and
the sweep parameters broadcast along the last axis. A run is a ``lax.scan``
over output samples; each sample is an inner scan of ``every`` integration
steps (taken in pairs, see :func:`_steps`), so only the decimated
trajectory is kept in memory. Conduction delays read a doubled ring buffer of
the sources (rows ``(step, region)``, points last): every connection's
delayed source is one row gather ``buffer[base_ij + w * n]`` with no modulo,
contiguous over points.
Noise is drawn once per output sample for all its inner steps, as a pure
function of ``(seed, sweep-point index, sample)`` (:mod:`xneuro.mass.random`).

Everything here is pure array code: no xarray. :mod:`xneuro.mass.simulate`
builds the :class:`Spec` and the arrays and labels the result.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from xneuro.mass.integrators import STABILITY_LIMIT, get_integrator
from xneuro.mass.random import normal, point_key

__all__ = ["Spec", "compiled", "max_rate", "run_chunk"]

log = logging.getLogger("xneuro.mass.kernel")


@dataclass(frozen=True)
class Spec:
    """Everything that shapes the compiled program (hashable; values are traced inputs)."""

    model_cls: type
    time_unit: str
    coupling_cls: type
    coupling_static: tuple[Any, ...]
    noise_kind: str
    noise_states: tuple[str, ...]
    integrator: str
    n: int
    dt: float = field(compare=False)  # a traced input: changing it does not recompile
    every: int = 0
    n_samples: int = 0
    n_transient: int = 0
    buffer: int = 0
    record: tuple[str, ...] = ()
    dtype: str = "float32"

    def model(self) -> Any:
        """A parameterless instance of the model class (its methods are pure)."""
        return self.model_cls(time_unit=self.time_unit)

    def coupling(self) -> Any:
        """An instance of the coupling class with the static configuration."""
        cls = self.coupling_cls
        return cls(*self.coupling_static) if self.coupling_static else cls()


def delay_base(D: np.ndarray, buffer: int) -> np.ndarray:
    """Row offsets into the doubled ring buffer: ``(L - D_ij) * n + j``, flattened."""
    n = D.shape[0]
    return ((buffer - np.asarray(D, np.int64)) * n + np.arange(n)[None, :]).ravel().astype(
        np.int32)


def _program(spec: Spec) -> Any:
    """The batched simulation ``(p, c, nz, state0, seed, index, W, base, dt) -> outputs``.

    ``p``: model parameters ``(n, P)`` (``(1, 1)`` when uniform); ``c``, ``nz``:
    ``(P,)``; ``state0``: ``(n,)`` per state; ``index``: ``(P,)`` global point
    indices; ``base``: :func:`delay_base` (ignored without delays). Returns
    ``(T, n, P)`` per recorded state.
    """
    model = spec.model()
    coupling = spec.coupling()
    step = get_integrator(spec.integrator)
    dtype = jnp.dtype(spec.dtype)
    n, every, L = spec.n, spec.every, spec.buffer
    n_noise = len(spec.noise_states)

    def run(p, c, nz, state0, seed, index, W, base, dt):
        P = index.shape[0]
        rowsum = jnp.sum(W, axis=-1)[:, None]
        keys = point_key(seed, index)
        names = model.states
        # The states travel as one (states, n, P) block: XLA then updates them in
        # one fusion instead of one per state plus a copy of each (Jansen-Rit: 6).
        state = jnp.stack([jnp.broadcast_to(state0[k].astype(dtype)[:, None], (n, P))
                           for k in names])
        eta = (jnp.broadcast_to(nz["mean"].astype(dtype), (n_noise, n, P))
               if spec.noise_kind == "ou" else None)
        if L:
            src0 = model.source({k: state[i] for i, k in enumerate(names)}, p).astype(dtype)
            buf = jnp.tile(src0, (2 * L, 1))  # (2L * n, P): rows are (step, region)
        else:
            buf = jnp.zeros((0, P), dtype)
        if spec.noise_kind == "gaussian":
            scale = nz["sigma"] * jnp.sqrt(dt)
        elif spec.noise_kind == "ou":
            decay = jnp.exp(-dt / nz["tau"])
            kick = nz["sigma"] * jnp.sqrt(1.0 - decay * decay)

        def drift(s: dict[str, Any], xd: Any, eta: Any) -> dict[str, Any]:
            src = model.source(s, p)
            if xd is None:
                inp = coupling.instant(c, W, rowsum, src)
            else:
                inp = coupling.delayed(c, W, rowsum, xd, src)
            d = dict(model.rhs(s, p, inp))
            if eta is not None:
                for i, name in enumerate(spec.noise_states):
                    d[name] = d[name] + eta[i]
            return d

        def one_step(carry, z):
            stacked, eta, buf, t = carry
            state = {k: stacked[i] for i, k in enumerate(names)}
            xd = None
            if L:
                w = t % L
                src = model.source(state, p).astype(dtype)
                buf = jax.lax.dynamic_update_slice(buf, src, (w * n, 0))
                buf = jax.lax.dynamic_update_slice(buf, src, ((w + L) * n, 0))
                xd = jnp.take(buf, base + w * n, axis=0, mode="clip").reshape(n, n, P)
            dw = {}
            if spec.noise_kind == "gaussian":
                dw = {name: scale * z[i] for i, name in enumerate(spec.noise_states)}
            state = step(lambda s: drift(s, xd, eta), state, dt, dw)
            state = model.clip(state)
            if spec.noise_kind == "ou":
                eta = nz["mean"] + (eta - nz["mean"]) * decay + kick * z
            stacked = jnp.stack([jnp.asarray(state[k], dtype) for k in names])
            return (stacked, eta, buf, None if t is None else t + 1), None

        def one_sample(carry, _):
            inner, sample = carry
            zs = normal(keys, sample, (every, n_noise, n), dtype) if spec.noise_kind else None
            inner = _steps(one_step, inner, zs, every)
            return (inner, sample + 1), {name: inner[0][names.index(name)]
                                         for name in spec.record}

        # the step counter only indexes the delay ring buffer
        carry = ((state, eta, buf, jnp.int32(0) if L else None), jnp.int32(0))
        if spec.n_transient:
            carry = jax.lax.fori_loop(
                0, spec.n_transient, lambda i, cr: one_sample(cr, None)[0], carry
            )
        _, out = jax.lax.scan(one_sample, carry, None, length=spec.n_samples)
        return out

    return run


def _steps(one_step: Any, carry: Any, zs: Any, every: int) -> Any:
    """Run ``every`` steps as a scan over pairs of steps (plus one when ``every`` is odd).

    The two steps of a pair are separated by an optimization barrier, which
    keeps XLA from fusing (and so recomputing) one step's nonlinearities into
    the next; the first step then writes a fresh buffer and the second the loop
    carry, so no per-step copy of the state is made (about 10% on Jansen-Rit
    sweeps). ``zs`` are the step's noise draws ``(every, ...)`` or ``None``.
    """
    half = every // 2

    def two_steps(c: Any, z2: Any) -> tuple[Any, None]:
        c, _ = one_step(c, None if z2 is None else z2[0])
        c = jax.lax.optimization_barrier(c)
        c, _ = one_step(c, None if z2 is None else z2[1])
        return c, None

    if half:
        pairs = None if zs is None else zs[:2 * half].reshape((half, 2, *zs.shape[1:]))
        carry, _ = jax.lax.scan(two_steps, carry, pairs, length=half)
    if every % 2:
        carry, _ = one_step(carry, None if zs is None else zs[-1])
    return carry


@functools.lru_cache(maxsize=32)
def compiled(spec: Spec) -> Any:
    """The jitted program over a chunk of points (cached per :class:`Spec`).

    Parameters
    ----------
    spec : Spec
        The static configuration.

    Returns
    -------
    callable
        See :func:`_program`; one compile per :class:`Spec` and chunk width.
    """
    return jax.jit(_program(spec))


def _param_block(values: Any, dtype: np.dtype) -> np.ndarray:
    """A model parameter ``(points, n)`` as the program's ``(n, points)`` block.

    A parameter equal in every region and point (anything not swept) is passed
    as a ``(1, 1)`` array: the program then reads one number instead of an
    ``(n, points)`` block per use and step (Jansen-Rit sweeps run about 20%
    faster). Broadcasting makes the results identical.
    """
    array = np.asarray(values, dtype)
    if array.size and np.all(array == array.flat[0]):
        return np.full((1, 1), array.flat[0], dtype)
    return np.ascontiguousarray(array.T)


def run_chunk(
    spec: Spec,
    p: Mapping[str, np.ndarray],
    c: Mapping[str, np.ndarray],
    nz: Mapping[str, np.ndarray],
    state0: Mapping[str, np.ndarray],
    seed: int,
    index: np.ndarray,
    W: np.ndarray,
    D: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Run one chunk of sweep points and return numpy arrays ``(points, time, region)``.

    Parameters
    ----------
    spec : Spec
        Static configuration.
    p, c, nz : mapping
        Model parameters ``(points, n)``, coupling and noise parameters ``(points,)``.
    state0 : mapping
        Initial state, ``(n,)`` per state (shared by the points).
    seed : int
        Noise seed.
    index : ndarray
        Global indices of the points in the sweep (they key the noise).
    W : ndarray
        Connectivity ``(n, n)``, row = target.
    D : ndarray or None
        Delays in steps ``(n, n)`` when ``spec.buffer`` > 0.

    Returns
    -------
    dict of str to ndarray
        The recorded states.
    """
    program = compiled(spec)
    dtype = np.dtype(spec.dtype)
    cast = lambda tree: {k: np.asarray(v, dtype=dtype) for k, v in tree.items()}
    base = delay_base(D, spec.buffer) if D is not None and spec.buffer else np.zeros(1, np.int32)
    args = (
        {k: _param_block(v, dtype) for k, v in p.items()}, cast(c),
        cast(nz), cast(state0), np.uint32(seed % 2**32), np.asarray(index, dtype=np.uint32),
        np.asarray(W, dtype=dtype), base, np.asarray(spec.dt, dtype=dtype),
    )
    if dtype == np.float64:
        with jax.enable_x64(True):
            out = program(*args)
            return {k: np.moveaxis(np.asarray(v), -1, 0) for k, v in out.items()}
    out = program(*args)
    return {k: np.moveaxis(np.asarray(v), -1, 0) for k, v in out.items()}


@functools.lru_cache(maxsize=32)
def _jacobian_program(model_cls: type, time_unit: str, coupling_cls: type,
                      coupling_static: tuple[Any, ...], n: int, coupled: bool) -> Any:
    """Jitted Jacobian of the deterministic network RHS (or of each uncoupled node)."""
    model = model_cls(time_unit=time_unit)
    coupling = coupling_cls(*coupling_static) if coupling_static else coupling_cls()
    names = model.states

    def flat(x: Any, p: Any, c: Any, W: Any) -> Any:
        state = {k: x[i * n:(i + 1) * n] for i, k in enumerate(names)}
        src = model.source(state, p)[:, None]
        inp = (coupling.instant(c, W, jnp.sum(W, axis=-1)[:, None], src) if coupled
               else 0.0 * src)[:, 0]
        d = model.rhs(state, p, inp)
        return jnp.concatenate([jnp.broadcast_to(d[k], (n,)) for k in names])

    if coupled:
        return jax.jit(jax.jacfwd(flat))

    def node(x: Any, p: Any) -> Any:
        d = model.rhs({k: x[i] for i, k in enumerate(names)}, p, 0.0)
        return jnp.stack([jnp.asarray(d[k], x.dtype) for k in names])

    return jax.jit(jax.vmap(jax.jacfwd(node)))


def max_rate(
    model: Any,
    coupling: Any,
    p: Mapping[str, np.ndarray],
    c: Mapping[str, float],
    state0: Mapping[str, np.ndarray],
    W: np.ndarray,
    *,
    full_limit: int = 800,
) -> float:
    """Spectral radius of the deterministic network Jacobian at the initial state.

    Parameters
    ----------
    model, coupling : Model, Coupling
        The model and coupling.
    p, c : mapping
        One point's model (per-region) and coupling parameters.
    state0 : mapping
        The initial state.
    W : ndarray
        Connectivity.
    full_limit : int
        Above this many unknowns (regions x states) only the uncoupled nodes'
        Jacobians are used.

    Returns
    -------
    float
        The largest ``|lambda|`` (model time units).
    """
    names = model.states
    n = W.shape[0]
    coupled = len(names) * n <= full_limit
    program = _jacobian_program(type(model), model.time_unit, type(coupling), coupling.static(),
                                n, coupled)
    pj = {k: np.asarray(v, np.float32) for k, v in p.items()}
    if coupled:
        x0 = np.concatenate([np.asarray(state0[k], np.float32) for k in names])
        cj = {k: np.float32(v) for k, v in c.items()}
        J = np.asarray(program(x0, pj, cj, np.asarray(W, np.float32)), dtype=np.float64)
    else:
        xs = np.stack([np.asarray(state0[k], np.float32) for k in names], axis=1)
        J = np.asarray(program(xs, pj), dtype=np.float64)
    if not np.all(np.isfinite(J)):
        return float("inf")
    return float(np.max(np.abs(np.linalg.eigvals(J))))


def stability_bound(integrator: str, rate: float) -> float:
    """Largest stable step (model time units) for a rate ``|lambda|``."""
    return math.inf if rate <= 0 else STABILITY_LIMIT[integrator] / rate
