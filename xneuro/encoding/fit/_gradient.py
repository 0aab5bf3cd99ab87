"""The gradient fit: every voxel of a block in one compiled JAX program.

The parameters live in the unconstrained space of the model's transforms. One
iteration evaluates the loss of all voxels and its gradient (one forward and
one backward pass of ``predict(X, theta)`` over the whole ``(T, V)`` block),
records each voxel's best R² and the parameters that gave it, checks early
stopping and applies the optimizer's update. ``lax.while_loop`` runs up to
``block_steps`` iterations per call; between calls Python only updates the
progress bar and collects the loss curve, so the cost per iteration is the
arithmetic.

Losses per voxel (``r`` the residual, with the confounds projected out when
given, so that they are regressed out at every step):

- ``"ssq"``: ``sum_t r_t²``;
- ``"gaussian"``: ``T/2 log s² + sum_t r_t² / (2 s²)`` with a free variance
  ``s² = softplus(w)`` per voxel (``sigma2`` of the result).

Fixed parameters keep their initial values; a shared parameter is one
unconstrained value, started at the voxel mean, broadcast to all voxels.
With an element-wise optimizer (Adam, the default) voxels do not interact, so
the result of a voxel does not depend on the block it was fitted in, except
with shared parameters or ``early_stopping="mean"``.
"""

from __future__ import annotations

import csv
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from xneuro.core.errors import input_error
from xneuro.core.progress import progress_bar
from xneuro.encoding import _engine
from xneuro.encoding.fit._arrays import LRUCache, pad_rows, padded_size
from xneuro.encoding.fit._config import GradientConfig, OptimizerSpec
from xneuro.encoding.fit._predictor import Predictor

__all__ = ["GradientResult", "cache_block_size", "gradient_fit", "gradient_fit_blocks",
           "project_out"]

logger = logging.getLogger("xneuro.encoding.fit")

_PROGRAMS = LRUCache(8)
#: Columns of the loss curve.
HISTORY_COLUMNS = ("loss", "mean_r2", "mean_best_r2", "n_active")
_TINY = 1e-12


@dataclass
class GradientResult:
    """What :func:`gradient_fit` found for a block of voxels.

    Attributes
    ----------
    theta : numpy.ndarray, shape (V, P)
        Parameters of each voxel's best iterate (float64).
    r2 : numpy.ndarray, shape (V,)
        Their R².
    sigma2 : numpy.ndarray or None
        Per-voxel noise variance (``noise_model="gaussian"``).
    n_iterations : int
        Iterations run.
    history : numpy.ndarray, shape (n_iterations, 4)
        Per iteration: loss, mean R², mean best R², voxels still fitted.
    trace : numpy.ndarray or None
        ``(n_iterations, V, P + 1)``: parameters and R² of every iteration.
    """

    theta: np.ndarray
    r2: np.ndarray
    sigma2: np.ndarray | None
    n_iterations: int
    history: np.ndarray
    trace: np.ndarray | None


def project_out(confounds: np.ndarray | None) -> np.ndarray | None:
    """An orthonormal basis ``Q`` (``(T, k)``) of the confounds' column space."""
    if confounds is None:
        return None
    q, r = np.linalg.qr(np.asarray(confounds, dtype=np.float64))
    keep = np.abs(np.diag(r)) > 1e-10 * max(np.abs(np.diag(r)).max(), 1e-300)
    return q[:, keep]


class _Program:
    """The compiled init and block functions of one (model, settings) pair."""

    def __init__(self, predictor: Predictor, config: GradientConfig, optimizer: Any,
                 confounds: bool) -> None:
        self.predict = predictor.reduced_fn if predictor.linear else predictor.fn
        self.forward = predictor.model.transform_forward
        self.backward = predictor.model.transform_backward
        self.config = config
        self.optimizer = optimizer
        self.confounds = confounds
        self.init = jax.jit(self._init)
        self.run = jax.jit(self._run)

    # ------------------------------------------------------------ the model
    def _assemble(self, params: dict, base: Any) -> Any:
        c = self.config
        u = base
        if c.free:
            u = u.at[:, list(c.free)].set(params["voxel"])
        if c.shared:
            shared = jnp.broadcast_to(params["shared"], (base.shape[0], len(c.shared)))
            u = u.at[:, list(c.shared)].set(shared)
        return u

    def _residual_ssq(self, u: Any, consts: dict) -> Any:
        """Sum of squared residuals per voxel, less the constant ``consts["outside"]``."""
        resid = consts["Y"] - self.predict(consts["X"], self.forward(u))
        if self.confounds:
            q = consts["Q"]
            resid = resid - q @ (q.T @ resid)
        return jnp.sum(resid * resid, axis=0)

    def _loss(self, params: dict, consts: dict) -> tuple[Any, tuple[Any, Any]]:
        u = self._assemble(params, consts["base"])
        ssr = self._residual_ssq(u, consts)
        if self.config.noise_model == "gaussian":
            s2 = jax.nn.softplus(params["sigma"]) + _TINY
            full = ssr + consts["outside"]
            per_voxel = 0.5 * consts["n_eff"] * jnp.log(s2) + 0.5 * full / s2
        else:
            per_voxel = ssr
        return jnp.sum(jnp.where(consts["valid"], per_voxel, 0.0)), (ssr, u)

    # ----------------------------------------------------------------- init
    def _init(self, theta0: Any, consts: dict) -> dict:
        c = self.config
        valid = consts["valid"]
        base = self.backward(theta0)
        params: dict[str, Any] = {}
        if c.free:
            params["voxel"] = base[:, list(c.free)]
        if c.shared:
            weights = valid.astype(base.dtype)[:, None]
            params["shared"] = jnp.sum(base[:, list(c.shared)] * weights, 0) / jnp.maximum(
                jnp.sum(weights), 1.0)
        if c.noise_model == "gaussian":
            ssr = self._residual_ssq(base, consts) + consts["outside"]
            s2 = jnp.maximum(ssr / consts["n_eff"], 1e-6 * consts["sstot"] / consts["n_eff"])
            params["sigma"] = s2 + jnp.log(-jnp.expm1(-s2))  # softplus inverse
        n_vox = theta0.shape[0]
        ring = (c.lag + 1, n_vox) if c.stopping == "voxel" else (c.lag + 1,)
        n_trace = c.block_steps if c.store_intermediate else 0
        return {
            "step": jnp.asarray(0, jnp.int32),
            "done": jnp.asarray(False),
            "params": params,
            "opt_state": self.optimizer.init(params),
            "best_ssr": jnp.full(n_vox, jnp.inf, base.dtype),
            "best_u": self._assemble(params, base),
            "best_sigma": params.get("sigma", jnp.zeros(n_vox, base.dtype)),
            "best_mean": jnp.asarray(jnp.inf, base.dtype),
            "ring": jnp.zeros(ring, base.dtype),
            "frozen": jnp.zeros(n_vox, bool),
            "rows": jnp.zeros((c.block_steps, len(HISTORY_COLUMNS)), base.dtype),
            "trace": jnp.zeros((n_trace, n_vox, len(c.labels) + 1), base.dtype),
        }

    # ----------------------------------------------------------------- step
    def _step(self, carry: dict, consts: dict, block_start: Any) -> dict:
        c = self.config
        valid = consts["valid"]
        params = carry["params"]
        (loss, (part, u)), grads = jax.value_and_grad(self._loss, has_aux=True)(params, consts)
        grads = jax.tree_util.tree_map(lambda g: jnp.where(jnp.isfinite(g), g, 0.0), grads)
        ssr = part + consts["outside"]
        r2 = jnp.where(valid, 1.0 - ssr / consts["sstot"], jnp.nan)
        n_valid = jnp.maximum(jnp.sum(valid), 1)
        ok = valid & jnp.isfinite(r2)
        mean_r2 = jnp.sum(jnp.where(ok, r2, 0.0)) / n_valid
        out = dict(carry)
        # Best iterates are found on the residual sums of squares: same order as R², but
        # precise near a perfect fit, where float32 R² rounds to 1.
        if c.shared:  # one consistent iterate for all voxels: the best mean R²
            mean_ssr = jnp.sum(jnp.where(ok, ssr / consts["sstot"], 0.0)) / n_valid
            better = mean_ssr < carry["best_mean"]
            out["best_mean"] = jnp.where(better, mean_ssr, carry["best_mean"])
            improved = jnp.broadcast_to(better, r2.shape)
        else:  # the varying part alone: the most precise comparison
            improved = part < carry["best_ssr"]
        out["best_ssr"] = jnp.where(improved, part, carry["best_ssr"])
        best_r2 = jnp.where(valid, 1.0 - (out["best_ssr"] + consts["outside"]) / consts["sstot"],
                            jnp.nan)
        out["best_u"] = jnp.where(improved[:, None], u, carry["best_u"])
        if c.noise_model == "gaussian":
            out["best_sigma"] = jnp.where(improved, params["sigma"], carry["best_sigma"])
        mean_best = jnp.sum(jnp.where(valid & jnp.isfinite(best_r2), best_r2, 0.0)) / n_valid
        step = carry["step"]
        slot, old = step % (c.lag + 1), (step - c.lag) % (c.lag + 1)
        ready = (step >= consts["min_n_iterations"]) & (step >= c.lag)
        frozen = carry["frozen"]
        if c.stopping == "voxel":
            frozen = frozen | (ready & (best_r2 - carry["ring"][old] < consts["r2_atol"]))
            out["ring"] = carry["ring"].at[slot].set(best_r2)
            out["done"] = jnp.all(frozen | ~valid)
        else:
            gain = mean_best - carry["ring"][old]
            out["ring"] = carry["ring"].at[slot].set(mean_best)
            out["done"] = ready & (gain >= 0) & (gain < consts["r2_atol"])
        updates, out["opt_state"] = self.optimizer.update(grads, carry["opt_state"], params)
        new = optax.apply_updates(params, updates)
        if c.stopping == "voxel":  # frozen voxels keep their parameters
            new = {k: (jnp.where(frozen.reshape((-1,) + (1,) * (v.ndim - 1)), params[k], v)
                       if k != "shared" else v) for k, v in new.items()}
        out["params"], out["frozen"] = new, frozen
        n_active = jnp.sum(valid & ~frozen)
        row = jnp.stack([loss, mean_r2, mean_best, n_active.astype(loss.dtype)])
        out["rows"] = carry["rows"].at[step - block_start].set(row)
        if c.store_intermediate:
            now = jnp.concatenate([self.forward(u), r2[:, None]], axis=1)
            out["trace"] = carry["trace"].at[step - block_start].set(now)
        out["step"] = step + 1
        return out

    def _run(self, carry: dict, consts: dict, stop_at: Any, block_start: Any
             ) -> tuple[dict, Any, Any]:
        """Iterate until ``stop_at`` or early stopping; also the best parameters and variances."""
        carry = jax.lax.while_loop(lambda s: (s["step"] < stop_at) & ~s["done"],
                                   lambda s: self._step(s, consts, block_start), carry)
        sigma2 = jax.nn.softplus(carry["best_sigma"]) + _TINY
        return carry, self.forward(carry["best_u"]), sigma2


def _program(predictor: Predictor, config: GradientConfig, optimizer: OptimizerSpec,
             confounds: bool, dtype: str) -> _Program:
    key = (predictor.key, config.program_key(), optimizer.key, confounds, dtype)
    return _PROGRAMS.get(key, lambda: _Program(predictor, config, optimizer.optimizer,
                                               confounds))


def _write_log(path: Path, history: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(("iteration", *HISTORY_COLUMNS))
        for i, row in enumerate(history):
            writer.writerow((i, *(f"{v:.9g}" for v in row[:3]), int(row[3])))
    os.replace(tmp, path)


def gradient_fit(predictor: Predictor, Y: np.ndarray, theta0: np.ndarray,
                 config: GradientConfig, optimizer: OptimizerSpec, *,
                 confounds: np.ndarray | None = None, dtype: str = "float32",
                 progress: bool = False, log_path: Path | None = None) -> GradientResult:
    """Fit all voxels of a block by gradient descent from ``theta0``.

    Parameters
    ----------
    predictor : Predictor
        Model and paradigm.
    Y : numpy.ndarray, shape (T, V)
        Voxels with finite values and non-zero variance (after the confounds
        are projected out).
    theta0 : numpy.ndarray, shape (V, P)
        Initial parameters, inside the model's bounds.
    config : GradientConfig
        Iterations, early stopping, fixed and shared parameters, noise model.
    optimizer : OptimizerSpec
        The optax optimizer.
    confounds : numpy.ndarray, optional
        ``Q`` (``(T, k)``, orthonormal columns) of :func:`project_out`.
    dtype : {"float32", "float64"}
        Precision.
    progress : bool
        Show a bar over iterations.
    log_path : pathlib.Path, optional
        Write the loss and R² curve there as CSV.

    Returns
    -------
    GradientResult
    """
    n_time, n_vox = Y.shape
    size = padded_size(n_vox)
    valid = np.arange(size) < n_vox
    Yp = pad_rows(np.asarray(Y, np.float64).T, size).T
    theta0 = pad_rows(np.asarray(theta0, np.float64), size)
    clean = Yp if confounds is None else Yp - confounds @ (confounds.T @ Yp)
    centred = clean - clean.mean(axis=0)
    n_eff = n_time - (0 if confounds is None else confounds.shape[1])
    in_loop = confounds is not None and not predictor.linear  # else projected beforehand
    program = _program(predictor, config, optimizer, in_loop, dtype)
    with _engine.precision(dtype):
        if predictor.linear:
            X, Yk, outside = predictor.reduce(Yp, confounds)
        else:
            X, Yk, outside = predictor.X, Yp, np.zeros(size)
        consts = {"X": X, "Y": Yk, "outside": outside, "valid": valid,
                  "sstot": (centred ** 2).sum(0), "n_eff": np.float64(n_eff),
                  "r2_atol": np.float64(config.r2_atol)}
        if in_loop:
            consts["Q"] = confounds
        consts = {k: jnp.asarray(np.asarray(v, dtype=dtype if v.dtype.kind == "f" else None))
                  for k, v in consts.items()}
        consts["min_n_iterations"] = jnp.asarray(np.int32(config.min_n_iterations))
        carry = program.init(jnp.asarray(np.asarray(theta0, dtype)), consts)
        consts["base"] = carry["best_u"]
        bad = ~np.isfinite(np.asarray(carry["best_u"])).all(axis=1) & valid
        if bad.any():
            raise input_error("init_pars", f"map to non-finite unconstrained values for "
                              f"{int(bad.sum())} voxels (values at their bounds)",
                              expected="values strictly inside the model's bounds",
                              fix="move them away from the bounds (e.g. sd > 1e-3)")
        rows, traces = [], []
        done_steps = 0
        total = config.max_n_iterations
        with progress_bar(total=total, desc="gradient fit", progress=progress) as bar:
            while done_steps < total:
                stop = min(done_steps + config.block_steps, total)
                carry, theta, sigma2 = program.run(carry, consts, stop, done_steps)
                step = int(carry["step"])
                count = step - done_steps
                rows.append(np.asarray(carry["rows"], np.float64)[:count])
                if config.store_intermediate:
                    traces.append(np.asarray(carry["trace"], np.float64)[:count, :n_vox])
                bar.update(count)
                done_steps = step
                if bool(carry["done"]):
                    break
        theta = np.asarray(theta, np.float64)[:n_vox]
        sigma2 = np.asarray(sigma2, np.float64)[:n_vox] if config.noise_model == "gaussian" \
            else None
        best_ssr = np.asarray(carry["best_ssr"], np.float64)[:n_vox] + outside[:n_vox]
        r2 = 1.0 - best_ssr / (centred ** 2).sum(0)[:n_vox]
    history = np.concatenate(rows) if rows else np.zeros((0, len(HISTORY_COLUMNS)))
    if log_path is not None:
        _write_log(Path(log_path), history)
    logger.debug("gradient fit of %d voxels: %d iterations, mean R² %.4f", n_vox, done_steps,
                 float(np.nanmean(r2)) if n_vox else float("nan"))
    return GradientResult(theta=theta, r2=np.where(np.isfinite(r2), r2, np.nan), sigma2=sigma2,
                          n_iterations=done_steps, history=history,
                          trace=np.concatenate(traces) if traces else None)


#: Bytes of one gradient block's per-voxel arrays (as the model estimates them), so that a
#: block's working set stays in the CPU caches (measured: 1-D pRFs run 2.5x faster in blocks
#: of ~800 voxels than of ~3300).
CACHE_BYTES = 2 * 2**20
#: The same for the reduced-design (2-D) models, whose matrix products prefer larger blocks.
LINEAR_CACHE_BYTES = 8 * 2**20
#: Smallest block of the cache-sized split (smaller ones cost more in per-call overhead).
MIN_BLOCK = 256


def cache_block_size(predictor: Predictor, n_voxels: int, dtype: str) -> int:
    """Voxels per gradient block: near :data:`CACHE_BYTES`, the blocks of equal size."""
    per_voxel = np.dtype(dtype).itemsize * max(predictor.per_voxel(), 1)
    budget = LINEAR_CACHE_BYTES if predictor.linear else CACHE_BYTES
    size = max(MIN_BLOCK, budget // per_voxel)
    n_blocks = -(-n_voxels // size)
    return -(-n_voxels // max(n_blocks, 1))


def _combine(results: list[GradientResult], config: GradientConfig) -> GradientResult:
    """One result from the results of consecutive voxel blocks (fitted independently)."""
    n_it = max(r.n_iterations for r in results)
    counts = np.array([len(r.r2) for r in results], dtype=np.float64)
    history = np.zeros((n_it, len(HISTORY_COLUMNS)))
    traces = []
    for r, count in zip(results, counts, strict=True):
        h = r.history
        if len(h) < n_it:  # a block that stopped early: its voxels keep their last state
            tail = np.repeat(h[-1:], n_it - len(h), axis=0)
            tail[:, 3] = 0.0
            h = np.concatenate([h, tail])
        history[:, 0] += h[:, 0]
        history[:, 1:3] += h[:, 1:3] * count
        history[:, 3] += h[:, 3]
        if r.trace is not None:
            pad = np.full((n_it - r.trace.shape[0], *r.trace.shape[1:]), np.nan)
            traces.append(np.concatenate([r.trace, pad]))
    history[:, 1:3] /= max(counts.sum(), 1.0)
    return GradientResult(
        theta=np.concatenate([r.theta for r in results]),
        r2=np.concatenate([r.r2 for r in results]),
        sigma2=None if config.noise_model != "gaussian" else np.concatenate(
            [r.sigma2 for r in results]),
        n_iterations=n_it, history=history,
        trace=np.concatenate(traces, axis=1) if traces else None)


def gradient_fit_blocks(predictor: Predictor, Y: np.ndarray, theta0: np.ndarray,
                        config: GradientConfig, optimizer: OptimizerSpec, *,
                        confounds: np.ndarray | None = None, dtype: str = "float32",
                        threads: int = 1, progress: bool = False,
                        log_path: Path | None = None) -> GradientResult:
    """:func:`gradient_fit` in cache-sized voxel blocks, ``threads`` of them at a time.

    With per-voxel early stopping and an element-wise optimizer the voxels are
    independent, so the split changes nothing but speed: a block's arrays stay
    in the CPU caches, and blocks run in parallel (at least ``threads`` blocks
    of at least :data:`MIN_BLOCK` voxels: XLA runs element-wise loops on one
    core). With shared parameters or ``early_stopping="mean"`` the voxels are
    fitted together, in one block.
    """
    n_vox = Y.shape[1]
    size = cache_block_size(predictor, n_vox, dtype)
    if threads > 1:  # XLA runs element-wise loops (and small products) on one core
        size = min(size, max(MIN_BLOCK, -(-n_vox // threads)))
    if config.stopping != "voxel" or size >= n_vox:
        return gradient_fit(predictor, Y, theta0, config, optimizer, confounds=confounds,
                            dtype=dtype, progress=progress, log_path=log_path)
    blocks = [slice(start, min(start + size, n_vox)) for start in range(0, n_vox, size)]

    def one(block: slice) -> GradientResult:
        return gradient_fit(predictor, Y[:, block], theta0[block], config, optimizer,
                            confounds=confounds, dtype=dtype)

    results = []
    with ThreadPoolExecutor(max(1, min(threads, len(blocks)))) as pool, progress_bar(
            total=len(blocks), desc="gradient fit (voxel blocks)", progress=progress) as bar:
        for result in pool.map(one, blocks):
            results.append(result)
            bar.update(1)
    combined = _combine(results, config)
    if log_path is not None:
        _write_log(Path(log_path), combined.history)
    return combined
