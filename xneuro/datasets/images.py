"""Sample images embedded in xneuro: generated, labeled, deterministic.

Four categories of synthetic RGB images (oriented gratings, checkerboards,
coloured disks and filtered noise textures), enough structure for a network's
layers to respond differently and for RDMs to show category blocks.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from xneuro.core.errors import input_error

__all__ = ["CATEGORIES", "sample_images"]

CATEGORIES = ("grating", "checkerboard", "disk", "texture")


def _grating(yy, xx, rng):
    theta, freq = rng.uniform(0, np.pi), rng.uniform(3, 9)
    phase = rng.uniform(0, 2 * np.pi)
    lum = np.sin(2 * np.pi * freq * (np.cos(theta) * xx + np.sin(theta) * yy) + phase)
    return np.repeat(lum[None], 3, axis=0) * rng.uniform(0.6, 1.0, (3, 1, 1))


def _checkerboard(yy, xx, rng):
    n = rng.integers(3, 9)
    theta = rng.uniform(0, np.pi / 2)
    u, v = np.cos(theta) * xx + np.sin(theta) * yy, -np.sin(theta) * xx + np.cos(theta) * yy
    board = np.sign(np.sin(np.pi * n * u) * np.sin(np.pi * n * v))
    return board[None] * rng.uniform(0.5, 1.0, (3, 1, 1))


def _disk(yy, xx, rng):
    cy, cx, r = rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), rng.uniform(0.2, 0.5)
    inside = (((yy - cy) ** 2 + (xx - cx) ** 2) < r**2).astype(float)
    colour = rng.uniform(-1, 1, (3, 1, 1))
    return inside[None] * colour - (1 - inside[None]) * 0.5 * colour


def _texture(yy, xx, rng):
    size = yy.shape[0]
    noise = rng.standard_normal((3, size, size))
    freq = np.fft.fftfreq(size)
    radius = np.sqrt(freq[:, None] ** 2 + freq[None, :] ** 2)
    band = np.exp(-((radius - rng.uniform(0.03, 0.15)) ** 2) / (2 * 0.02**2))
    out = np.real(np.fft.ifft2(np.fft.fft2(noise) * band))
    return out / np.abs(out).max()


_MAKERS = {"grating": _grating, "checkerboard": _checkerboard, "disk": _disk, "texture": _texture}


def sample_images(n_per_category: int = 8, *, size: int = 96, seed: int = 0) -> xr.DataArray:
    """Generate the sample image set as labeled uint8 RGB images.

    Parameters
    ----------
    n_per_category : int
        Images per category (4 categories).
    size : int
        Height and width in pixels.
    seed : int
        Seed of the random generator; the same seed gives the same images.

    Returns
    -------
    DataArray, uint8, dims ``("stimulus", "channel", "row", "column")``
        Values 0-255; coords ``stimulus`` (names such as ``"grating_03"``),
        ``category`` along stimulus, and ``channel`` (``"R", "G", "B"``).
    """
    if not isinstance(n_per_category, int | np.integer) or n_per_category < 1:
        raise input_error("n_per_category", f"got {n_per_category!r}", expected="a positive int")
    if not isinstance(size, int | np.integer) or size < 8:
        raise input_error("size", f"got {size!r}", expected="an int >= 8 (pixels)")
    rng = np.random.default_rng(seed)
    axis = np.linspace(-1, 1, size)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    images, names, categories = [], [], []
    for category in CATEGORIES:
        for k in range(n_per_category):
            image = np.clip(_MAKERS[category](yy, xx, rng), -1, 1)
            images.append(np.round((image + 1) * 127.5).astype(np.uint8))
            names.append(f"{category}_{k:02d}")
            categories.append(category)
    return xr.DataArray(
        np.stack(images),
        dims=("stimulus", "channel", "row", "column"),
        coords={
            "stimulus": names,
            "category": ("stimulus", categories),
            "channel": ["R", "G", "B"],
        },
        name="image",
        attrs={"title": "xneuro sample images", "seed": seed},
    )
