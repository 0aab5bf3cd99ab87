"""Convolution of DNN activations with the HRF, sampled at the volumes of a BOLD run.

Each stimulus is an event (``onsets[i]``, ``durations[i]``, in seconds) whose
activation is held for its duration; the predicted BOLD at volume ``k`` (time
``k * tr``) is the sum over events of the activation times the HRF area the
event covers::

    bold[k] = sum_i act[i] * sum_{j in event i} h[v_k - j],    v_k = round(k * tr * ops)

on a grid of ``ops`` samples per second, with ``h`` the HRF sampled at
``n / ops`` for ``n = 0 .. 32 * ops - 1`` and normalised to sum 1 (a sustained
activation of 1 gives a response of 1). The event samples are
``[round(onset * ops), round(onset * ops) + round(duration * ops))``.

Because this is linear in the activations, xneuro builds the small
``(n_vol, n_event)`` design matrix once (from the HRF's cumulative sum) and
multiplies it with the activations (block by block, each block of events only
with the band of volumes it reaches) instead of
dnnbrain's FFT convolution of an oversampled ``(time, unit)`` boxcar for every
unit. Dask activations stay lazy; each block's product is added in place into one
running sum, so memory stays at a block or two plus the ``(n_vol, units)`` output.

How it differs from dnnbrain's ``convolve_hrf``
-----------------------------------------------
- Negative onsets are handled correctly: an event before the first volume
  contributes the tail of its response. dnnbrain shifts every event early by
  ``|min(onset)|`` and wraps the negative ones to the end of its buffer, so
  all its predictions are misaligned. Events after the run contribute nothing
  (dnnbrain raises ``IndexError`` when the run extends past its buffer).
- Overlapping events add (linear superposition); dnnbrain's boxcar lets the
  later event overwrite the earlier one.
- Onsets are placed with ``round(onset * ops)``; dnnbrain's ``int(onset *
  ops)`` truncates values like ``0.29 * 100 = 28.999...`` one sample early.
- The HRF is xneuro's canonical SPM double gamma (:func:`xneuro.hrf.spm_hrf`,
  undershoot ratio 1/6). ``hrf="dnnbrain"`` uses dnnbrain's kernel (nipy's
  ``spm_hrf``: ratio 0.167, gammas shifted by one sample, sampled on
  ``linspace(0, 32, 32 * ops)``), which reproduces dnnbrain's values for
  non-negative onsets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

from xneuro.core.errors import input_error
from xneuro.dnn._labels import STIMULUS, check_activation, iter_layers, map_layers

__all__ = ["KERNEL_SECONDS", "convolve_hrf", "design_matrix", "hrf_kernel"]

#: Length of the HRF kernel in seconds.
KERNEL_SECONDS = 32.0

HRF = str | Callable[[np.ndarray], np.ndarray]


def hrf_kernel(hrf: HRF, ops: int) -> np.ndarray:
    """The HRF sampled at ``ops`` samples per second over 32 s, normalised to sum 1.

    Parameters
    ----------
    hrf : {"spm", "dnnbrain"} or callable
        ``"spm"``: :func:`xneuro.hrf.spm_hrf` at ``n / ops``; ``"dnnbrain"``:
        nipy's ``spm_hrf`` as dnnbrain samples it; a callable receives the
        times in seconds (float64 array) and returns the HRF at them.
    ops : int
        Samples per second.

    Returns
    -------
    numpy.ndarray
        ``int(32 * ops)`` float64 values summing to 1.
    """
    n = int(KERNEL_SECONDS * ops)
    if hrf == "dnnbrain":
        from scipy.stats import gamma

        times = np.linspace(0, KERNEL_SECONDS, n)
        dt = 1.0 / ops
        values = gamma.pdf(times, 6.0, dt) - 0.167 * gamma.pdf(times, 16.0, dt)
    elif hrf == "spm":
        from xneuro.hrf import spm_hrf

        values = np.asarray(spm_hrf(np.arange(n) / ops), dtype=np.float64).ravel()
    elif callable(hrf):
        values = np.asarray(hrf(np.arange(n) / ops), dtype=np.float64).ravel()
        if values.shape != (n,) or not np.all(np.isfinite(values)):
            raise input_error(
                "hrf",
                f"returned {values.shape[0]} values (finite: {bool(np.all(np.isfinite(values)))}) "
                f"for {n} times",
                expected="one finite value per time",
                fix="return hrf(t) evaluated elementwise at the times given",
            )
    else:
        raise input_error(
            "hrf", f"is {hrf!r}", expected="'spm', 'dnnbrain' or a callable hrf(t_seconds)"
        )
    total = values.sum()
    if not total > 0:
        raise input_error("hrf", f"sums to {total}", expected="a kernel with a positive sum")
    return values / total


def _as_events(onsets: Any, durations: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        on = np.asarray(onsets, dtype=np.float64)
        du = np.asarray(durations, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise input_error(
            "onsets/durations", f"could not be read as numbers ({err})",
            expected="1-D arrays of seconds",
        ) from err
    if on.ndim != 1 or du.ndim != 1:
        raise input_error(
            "onsets/durations", f"have shapes {on.shape} and {du.shape}",
            expected="1-D arrays, one value per event",
        )
    if on.shape != du.shape:
        raise input_error(
            "durations",
            f"has {du.size} values but onsets has {on.size}",
            expected="one duration per onset (one event per stimulus)",
            fix="pass durations of the same length as onsets, e.g. np.full(len(onsets), 1.0)",
        )
    if not (np.all(np.isfinite(on)) and np.all(np.isfinite(du))):
        raise input_error("onsets/durations", "hold NaN or infinite values",
                          expected="finite seconds")
    if np.any(du < 0):
        raise input_error("durations", "has negative values", expected="durations >= 0 seconds")
    return on, du


def design_matrix(
    onsets: Any, durations: Any, n_vol: int, tr: float, ops: int = 100, hrf: HRF = "spm"
) -> np.ndarray:
    """The ``(n_vol, n_event)`` matrix that maps event activations to BOLD volumes.

    Parameters
    ----------
    onsets, durations : array-like
        Seconds, one per event; onsets may be negative or past the run.
    n_vol : int
        Number of volumes.
    tr : float
        Repetition time in seconds.
    ops : int
        Samples per second of the event grid.
    hrf : {"spm", "dnnbrain"} or callable
        The HRF (see :func:`hrf_kernel`).

    Returns
    -------
    numpy.ndarray, float64, shape ``(n_vol, n_event)``
        Entry ``(k, i)`` is the HRF mass of event ``i`` seen at volume ``k``.
    """
    on, du = _as_events(onsets, durations)
    kernel = hrf_kernel(hrf, ops)
    cumulative = np.concatenate(([0.0], np.cumsum(kernel)))  # C[m] = sum(h[:m])
    length = len(kernel)
    start = np.round(on * ops).astype(np.int64)
    stop = start + np.round(du * ops).astype(np.int64)
    volume = np.round(np.arange(n_vol) * tr * ops).astype(np.int64)[:, None]
    upper = np.clip(volume - start[None, :] + 1, 0, length)
    lower = np.clip(volume - stop[None, :] + 1, 0, length)
    return cumulative[upper] - cumulative[lower]


def _accumulate(total: np.ndarray | None, weights: np.ndarray, block: np.ndarray) -> np.ndarray:
    """``total + weights @ block`` (units flattened), added in place, on the rows it touches.

    The design matrix is banded (an event reaches only the volumes within the
    HRF's 32 s of it), so only the band of volumes that the block's events
    reach is multiplied and added (BLAS gemm writing into ``total``).
    """
    from scipy.linalg import blas

    flat = np.ascontiguousarray(block).reshape(len(block), -1)
    if total is None:
        total = np.zeros((weights.shape[0], flat.shape[1]), dtype=weights.dtype)
    rows = np.flatnonzero(np.any(weights != 0, axis=1))
    if rows.size == 0 or flat.shape[1] == 0:
        return total
    band = slice(int(rows[0]), int(rows[-1]) + 1)
    gemm = blas.sgemm if total.dtype == np.float32 else blas.dgemm
    # total[band]^T (a Fortran-ordered view) += flat^T weights[band]^T, in place
    out = gemm(1.0, flat.T, weights[band].T, beta=1.0, c=total[band].T, overwrite_c=True)
    if not np.shares_memory(out, total):  # pragma: no cover - BLAS had to copy
        total[band] = out.T
    return total


def _banded_product(weights: np.ndarray, values: np.ndarray, step: int = 256) -> np.ndarray:
    """``weights @ values`` for in-memory activations, ``step`` events at a time."""
    total = None
    for first in range(0, weights.shape[1], step):
        total = _accumulate(total, weights[:, first:first + step], values[first:first + step])
    assert total is not None
    return total.reshape(weights.shape[0], *values.shape[1:])


def _dot_chained(weights: np.ndarray, data: dsa.Array) -> dsa.Array:
    """``weights @ data`` over stimulus blocks, added into one running sum (bounded memory).

    A tree reduction would let the scheduler hold many ``(n_vol, units)`` partial
    products at once; one chain that adds each block's product in place keeps
    memory at the output plus a block or two, however large the activations.
    """
    data = data.rechunk(dict.fromkeys(range(1, data.ndim), -1))
    dtype = np.result_type(weights, data.dtype)
    weights = weights.astype(dtype)
    bounds = np.cumsum((0, *data.chunks[0]))
    blocks = data.to_delayed().reshape(-1)
    step = dask.delayed(_accumulate, pure=False)
    total = None
    for i, block in enumerate(blocks):
        total = step(total, weights[:, bounds[i]:bounds[i + 1]], block)
    shape = (weights.shape[0], *data.shape[1:])
    reshaped = dask.delayed(np.reshape, pure=True)(total, shape)
    return dsa.from_delayed(reshaped, shape=shape, dtype=dtype)


def _check_scalars(n_vol: Any, tr: Any, ops: Any) -> None:
    if isinstance(n_vol, bool) or not isinstance(n_vol, int | np.integer) or n_vol < 1:
        raise input_error("n_vol", f"is {n_vol!r}", expected="a positive int (volumes)")
    if isinstance(tr, bool) or not isinstance(tr, int | float | np.number) or not tr > 0:
        raise input_error("tr", f"is {tr!r}", expected="a positive number of seconds")
    if isinstance(ops, bool) or not isinstance(ops, int | np.integer) or ops < 1:
        raise input_error(
            "ops", f"is {ops!r}", expected="a positive int (samples per second), e.g. 100"
        )


def convolve_hrf(
    obj: xr.DataArray | xr.DataTree,
    onsets: Any,
    durations: Any,
    n_vol: int,
    tr: float,
    ops: int = 100,
    *,
    hrf: HRF = "spm",
) -> xr.DataArray | xr.DataTree:
    """Convolve each layer's activations with the HRF and sample them at the volumes.

    Parameters
    ----------
    obj : DataArray or DataTree
        One layer or a tree; stimulus ``i`` is the event at ``onsets[i]``.
    onsets, durations : array-like
        Event onsets and durations in seconds, one per stimulus. Any onsets
        work, negative ones and ones after the run included.
    n_vol : int
        Number of BOLD volumes.
    tr : float
        Repetition time in seconds.
    ops : int, default 100
        Samples per second of the event grid (onsets and durations are
        rounded to it; dnnbrain allows 10, 100, 1000).
    hrf : {"spm", "dnnbrain"} or callable, default "spm"
        The HRF; see :func:`hrf_kernel`.

    Returns
    -------
    DataArray or DataTree
        Each layer with ``stimulus`` replaced by ``time`` (seconds, ``k *
        tr``; ``attrs["tr"]``), other dims unchanged. Lazy for dask input.

    Raises
    ------
    InputError
        For onsets and durations of different lengths, a length different
        from the number of stimuli, negative durations, or bad ``n_vol``,
        ``tr``, ``ops``.

    Notes
    -----
    See the module notes for the exact formula and the differences from
    dnnbrain (negative onsets, overlapping events, rounding, kernel).
    """
    on, du = _as_events(onsets, durations)
    _check_scalars(n_vol, tr, ops)
    for name, da in iter_layers(obj):
        n_stim = check_activation(da, f"activation of layer {name!r}").sizes[STIMULUS]
        if n_stim != on.size:
            raise input_error(
                "onsets",
                f"has {on.size} events but layer {name!r} has {n_stim} stimuli",
                expected="one onset and one duration per stimulus",
                fix="index the activations by event first, e.g. act.isel(stimulus=order)",
            )
    matrix = design_matrix(on, du, int(n_vol), float(tr), int(ops), hrf)
    times = np.arange(int(n_vol)) * float(tr)

    def one(da: xr.DataArray, _name: str) -> xr.DataArray:
        dtype = da.dtype if da.dtype.kind == "f" else np.dtype(np.float64)
        values = da.drop_vars([c for c in da.coords if STIMULUS in da[c].dims])
        values = values.transpose(STIMULUS, ...).astype(dtype, copy=False)
        weights = matrix.astype(dtype)
        if isinstance(values.data, dsa.Array):
            data = _dot_chained(weights, values.data)
        else:
            data = _banded_product(weights, np.asarray(values.data))
        out = xr.DataArray(data, dims=("time", *values.dims[1:]),
                           coords={k: v.variable for k, v in values.coords.items()})
        out = out.assign_coords(time=("time", times, {"units": "s"}))
        return out.assign_attrs(tr=float(tr))

    return map_layers(obj, one)
