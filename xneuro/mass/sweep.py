"""Parameter sweeps: the grid of points, chunk computation, and the three ways to run it.

A sweep is a grid over named parameters (model, coupling or noise). The grid
is cut along one *unit* dimension; a chunk is a slice of that dimension times
every other sweep dimension, and runs as one batched, jitted JAX program
(:func:`xneuro.mass.kernel.run_chunk`). Chunks run in memory one after the
other, as lazy dask tasks, or as units of a resumable Zarr job.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xneuro.core.errors import XneuroError, input_error
from xneuro.mass.kernel import Spec, run_chunk
from xneuro.mass.models.base import TIME_SCALE

__all__ = ["DivergenceError", "Setup", "SweepGrid", "resolve_sweep"]

log = logging.getLogger("xneuro.mass.sweep")

GROUPS = ("model", "coupling", "noise")


class DivergenceError(XneuroError, FloatingPointError):
    """A simulated state became NaN or infinite."""


@dataclass
class SweepGrid:
    """The sweep: dims in order, their values, and what parameter each one sets."""

    dims: tuple[str, ...] = ()
    values: dict[str, np.ndarray] = field(default_factory=dict)
    targets: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Sizes of the sweep dims."""
        return tuple(len(self.values[d]) for d in self.dims)

    @property
    def size(self) -> int:
        """Number of points."""
        return int(np.prod(self.shape, dtype=int)) if self.dims else 1

    def unit_dim(self) -> str | None:
        """The dimension chunks are cut along: the longest (the first on ties)."""
        if not self.dims:
            return None
        return max(self.dims, key=lambda d: (len(self.values[d]), -self.dims.index(d)))

    def unit_size(self, points_per_chunk: int) -> int:
        """Length of a chunk along :meth:`unit_dim` for about ``points_per_chunk`` points."""
        dim = self.unit_dim()
        if dim is None:
            return 1
        others = self.size // len(self.values[dim])
        return max(1, min(len(self.values[dim]), points_per_chunk // max(others, 1)))

    def block(self, unit_dim: str | None, region: slice | None) -> tuple[np.ndarray, dict]:
        """Flat point indices and per-dim values of the chunk ``region`` of ``unit_dim``.

        Points are in C order over :attr:`dims` with ``unit_dim`` restricted.
        """
        if not self.dims:
            return np.zeros(1, np.int64), {}
        ranges = [
            np.arange(len(self.values[d]))[region] if d == unit_dim else
            np.arange(len(self.values[d]))
            for d in self.dims
        ]
        mesh = np.meshgrid(*ranges, indexing="ij")
        flat = np.ravel_multi_index(tuple(m.ravel() for m in mesh), self.shape)
        vals = {d: self.values[d][m.ravel()] for d, m in zip(self.dims, mesh, strict=True)}
        return flat, vals

    def block_shape(self, unit_dim: str | None, region: slice | None) -> tuple[int, ...]:
        """Sweep shape of a chunk."""
        return tuple(
            len(np.arange(len(self.values[d]))[region]) if d == unit_dim else len(self.values[d])
            for d in self.dims
        )


def resolve_sweep(
    sweep: Mapping[str, Any] | None,
    params: Mapping[str, Mapping[str, Any]],
) -> SweepGrid:
    """Check a ``sweep`` mapping and find which parameter each name sets.

    Parameters
    ----------
    sweep : mapping, optional
        Name to 1-D values. A name is a parameter of the model, the coupling
        or the noise; prefix it (``"model.b"``, ``"coupling.b"``, ``"noise.tau"``)
        when it is ambiguous.
    params : mapping
        Group (``"model"``, ``"coupling"``, ``"noise"``) to its parameter names.

    Returns
    -------
    SweepGrid
        The grid.
    """
    if sweep is None:
        return SweepGrid()
    if not isinstance(sweep, Mapping):
        raise input_error("sweep", f"is a {type(sweep).__name__}",
                          expected="a dict {parameter name: 1-D values}")
    grid = SweepGrid()
    for name, values in sweep.items():
        name = str(name)
        if "." in name:
            group, key = name.split(".", 1)
            if group not in GROUPS or key not in params.get(group, {}):
                raise input_error(
                    f"sweep[{name!r}]", "names no parameter",
                    expected=f"'<group>.<name>' with group in {GROUPS} and a parameter of it",
                    fix=_known(params),
                )
            found = [(group, key)]
        else:
            found = [(g, name) for g in GROUPS if name in params.get(g, {})]
        if not found:
            raise input_error(
                f"sweep[{name!r}]", "is not a parameter of the model, coupling or noise",
                expected="a parameter name", fix=_known(params),
            )
        if len(found) > 1:
            raise input_error(
                f"sweep[{name!r}]",
                f"is a parameter of {[g for g, _ in found]}",
                expected="an unambiguous name",
                fix=f"write it as {[f'{g}.{name}' for g, _ in found]}",
            )
        array = np.asarray(values, dtype=float)
        if array.ndim == 0:
            array = array[None]
        if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
            raise input_error(
                f"sweep[{name!r}]", f"has shape {array.shape}",
                expected="a non-empty 1-D list of finite values",
            )
        if len(np.unique(array)) != array.size:
            raise input_error(f"sweep[{name!r}]", "has repeated values",
                              expected="distinct values (they label the dimension)")
        grid.dims += (name,)
        grid.values[name] = array
        grid.targets[name] = found[0]
    return grid


def _known(params: Mapping[str, Mapping[str, Any]]) -> str:
    return "choose from " + "; ".join(f"{g}: {sorted(v)}" for g, v in params.items() if v)


@dataclass
class Setup:
    """Everything a chunk needs (picklable: numpy arrays and small objects)."""

    spec: Spec
    p: dict[str, np.ndarray]
    c: dict[str, float]
    nz: dict[str, float]
    state0: dict[str, np.ndarray]
    seed: int
    weights: np.ndarray
    delays: np.ndarray | None
    grid: SweepGrid
    points_per_chunk: int
    times: np.ndarray

    def _arrays(self, vals: Mapping[str, np.ndarray], n_points: int) -> tuple[dict, ...]:
        scale = TIME_SCALE[self.spec.time_unit]
        p = {k: np.broadcast_to(v, (n_points, v.shape[-1])).copy() for k, v in self.p.items()}
        c = {k: np.full(n_points, v) for k, v in self.c.items()}
        nz = {k: np.full(n_points, v) for k, v in self.nz.items()}
        for dim, column in vals.items():
            group, key = self.grid.targets[dim]
            if group == "model":
                p[key] = np.repeat(column[:, None], self.spec.n, axis=1)
            elif group == "coupling":
                c[key] = column.copy()
            else:
                nz[key] = column * scale if key == "tau" else column.copy()
        return p, c, nz

    def run_points(self, flat: np.ndarray, vals: Mapping[str, np.ndarray]) -> dict:
        """Run points in programs of :attr:`points_per_chunk`; ``(points, time, n)`` per state."""
        size = len(flat)
        width = min(self.points_per_chunk, self.grid.size)
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, size, width):
            stop = min(start + width, size)
            take = np.arange(start, stop)
            if stop - start < width:  # pad to the compiled width; padding is dropped
                take = np.concatenate([take, np.full(width - (stop - start), stop - 1)])
            sub = {d: v[take] for d, v in vals.items()}
            p, c, nz = self._arrays(sub, width)
            out = run_chunk(self.spec, p, c, nz, self.state0, self.seed, flat[take],
                            self.weights, self.delays)
            parts.append({k: v[: stop - start] for k, v in out.items()})
        return {k: np.concatenate([part[k] for part in parts]) for k in self.spec.record}

    def compute(self, unit_dim: str | None = None, region: slice | None = None) -> dict:
        """Simulate one chunk: state name to ``(time, region, *sweep_block)`` arrays."""
        flat, vals = self.grid.block(unit_dim, region)
        out = self.run_points(flat, vals)
        shape = self.grid.block_shape(unit_dim, region)
        result = {}
        for name, array in out.items():
            self._check_finite(name, array, flat)
            array = array.reshape(*shape, *array.shape[1:])
            order = (len(shape), len(shape) + 1, *range(len(shape)))
            result[name] = np.transpose(array, order)
        return result

    def _check_finite(self, name: str, array: np.ndarray, flat: np.ndarray) -> None:
        bad = ~np.isfinite(array)
        if not bad.any():
            return
        point, t, region = np.argwhere(bad)[0]
        where = ""
        if self.grid.dims:
            index = np.unravel_index(flat[point], self.grid.shape)
            where = " at sweep point " + ", ".join(
                f"{d}={self.grid.values[d][i]:g}" for d, i in zip(self.grid.dims, index,
                                                                  strict=True))
        dt_s = self.spec.dt / TIME_SCALE[self.spec.time_unit]
        raise DivergenceError(
            f"state {name!r}: became NaN/inf at t={self.times[t]:g} s in region index "
            f"{region}{where}; expected finite values; fix: the integration diverged - "
            f"lower dt (now {dt_s:g} s), use integrator='heun' or 'rk4', or check the "
            "parameters and the coupling gain."
        )


def chunk_count(grid: SweepGrid, unit_size: int) -> int:
    """Number of chunks along the unit dim."""
    dim = grid.unit_dim()
    return 1 if dim is None else math.ceil(len(grid.values[dim]) / unit_size)
