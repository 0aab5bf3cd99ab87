"""A counter-based normal generator for the simulation noise: cheap to compile and to run.

JAX's threefry keys cost seconds of XLA compile time on CPU for every noisy
program; the noise of a simulation needs speed and independence across
steps, regions and sweep points rather than cryptographic strength. Each
number here is a pure function of ``(seed, point, sample, position)``: the
32-bit ``lowbias32`` integer hash (C. Wellons' hash prospector) is applied in
rounds keyed by those indices, and a Box-Muller transform turns two hashed
uniforms into a standard normal. The stream therefore does not depend on how
the sweep is chunked.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["mix32", "normal", "point_key"]

_GOLDEN = np.uint32(0x9E3779B9)


def mix32(x: Any) -> Any:
    """The lowbias32 hash of uint32 values (a bijection on 32-bit integers)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def point_key(seed: Any, index: Any) -> Any:
    """A 32-bit stream key for sweep point ``index`` of run ``seed``."""
    s = jnp.asarray(seed, jnp.uint32)
    i = jnp.asarray(index, jnp.uint32)
    return mix32(mix32(s * _GOLDEN + jnp.uint32(0x632BE5AB)) ^ mix32(i + _GOLDEN))


def _uniform(bits: Any, dtype: Any) -> Any:
    # 24 high bits -> (0, 1]: never 0, so log() below stays finite.
    return ((bits >> 8).astype(dtype) + 1.0) * (1.0 / 16777216.0)


def normal(key: Any, sample: Any, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Any:
    """Standard normals of ``shape + key.shape`` for output sample ``sample`` of each stream.

    Parameters
    ----------
    key : uint32 array
        Stream keys from :func:`point_key` (one per sweep point; a scalar for one).
    sample : int scalar
        The output-sample counter (each sample draws a fresh block).
    shape : tuple of int
        Block shape.
    dtype : dtype
        Float type of the result.

    Returns
    -------
    array
        Independent N(0, 1) values; the values of one stream do not depend
        on the other keys passed with it.
    """
    key = jnp.asarray(key, jnp.uint32)
    size = int(np.prod(shape))
    k = mix32(key ^ mix32(jnp.asarray(sample, jnp.uint32) * _GOLDEN + jnp.uint32(1)))
    counter = jnp.arange(size, dtype=jnp.uint32).reshape((size,) + (1,) * key.ndim)
    a = mix32(mix32(counter ^ k) + k)
    b = mix32(mix32(counter ^ (k * jnp.uint32(0x2C1B3C6D) + jnp.uint32(0x297A2D39))) ^ k)
    u1, u2 = _uniform(a, dtype), _uniform(b, dtype)
    z = jnp.sqrt(-2.0 * jnp.log(u1)) * jnp.cos((2.0 * np.pi) * u2)
    return z.reshape(tuple(shape) + key.shape)
