"""A small synthetic pRF experiment: bar sweeps over a visual field and the BOLD they evoke.

The sample is generated, not downloaded, so it exists on every machine: voxels
with 2-D Gaussian population receptive fields watch a bar sweep the visual
field in eight directions; their neural responses are convolved with a
double-gamma HRF and sampled every TR, with Gaussian noise added.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import gamma

from xneuro.core.errors import input_error

__all__ = ["bar_sweeps", "sample_bold"]


def bar_sweeps(n_pixels: int = 20, *, bar_width: float = 0.25, steps: int = 20) -> np.ndarray:
    """Binary apertures of a bar sweeping the field in 8 directions, with blanks.

    Parameters
    ----------
    n_pixels : int
        Pixels per side of the square field, which spans [-1, 1] degrees.
    bar_width : float
        Bar width in degrees (the field is 2 degrees wide).
    steps : int
        Frames per sweep.

    Returns
    -------
    ndarray, shape (n_frames, n_pixels, n_pixels)
        ``(time, y, x)`` apertures in {0, 1}.
    """
    coords = np.linspace(-1, 1, n_pixels)
    y, x = np.meshgrid(coords, coords, indexing="ij")
    frames = []
    for k, angle in enumerate(np.arange(8) * np.pi / 4):
        position = np.cos(angle) * x + np.sin(angle) * y
        for centre in np.linspace(-1.2, 1.2, steps):
            frames.append(np.abs(position - centre) <= bar_width / 2)
        if k % 2 == 1:  # a blank period after every second sweep
            frames.extend([np.zeros_like(x, dtype=bool)] * (steps // 2))
    return np.asarray(frames, dtype=np.float32)


def _double_gamma(tr: float, length: float = 32.0) -> np.ndarray:
    t = np.arange(0, length, tr)
    h = gamma.pdf(t, 6) - gamma.pdf(t, 16) / 6
    return h / h.sum()


def sample_bold(
    n_voxels: int = 400,
    *,
    tr: float = 1.5,
    n_pixels: int = 20,
    noise: float = 0.1,
    seed: int = 0,
) -> xr.Dataset:
    """Generate the sample pRF experiment as a labeled Dataset.

    Parameters
    ----------
    n_voxels : int
        Voxels, laid out on a small ``(i, j, k)`` volume.
    tr : float
        Repetition time in seconds.
    n_pixels : int
        Pixels per side of the stimulus.
    noise : float
        Standard deviation of the Gaussian noise added to the BOLD signal.
    seed : int
        Seed of the random generator; the same seed gives the same data.

    Returns
    -------
    Dataset
        ``bold`` (time, voxel), ``paradigm`` (time, y, x) and the true pRF
        parameters ``true_x``, ``true_y``, ``true_sd``, ``true_amplitude`` and
        ``true_baseline`` over voxel.
    """
    for name, value in (("n_voxels", n_voxels), ("n_pixels", n_pixels)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise input_error(name, f"got {value!r}", expected="a positive int")
    if not tr > 0:
        raise input_error("tr", f"got {tr!r}", expected="a positive number of seconds")
    rng = np.random.default_rng(seed)
    apertures = bar_sweeps(n_pixels)
    n_time = apertures.shape[0]
    coords = np.linspace(-1, 1, n_pixels)
    gy, gx = np.meshgrid(coords, coords, indexing="ij")

    pars = {
        "x": rng.uniform(-0.8, 0.8, n_voxels),
        "y": rng.uniform(-0.8, 0.8, n_voxels),
        "sd": rng.uniform(0.1, 0.5, n_voxels),
        "amplitude": rng.uniform(0.5, 2.0, n_voxels),
        "baseline": rng.uniform(-0.5, 0.5, n_voxels),
    }
    rf = np.exp(
        -((gx[None] - pars["x"][:, None, None]) ** 2 + (gy[None] - pars["y"][:, None, None]) ** 2)
        / (2 * pars["sd"][:, None, None] ** 2)
    )
    rf /= rf.sum(axis=(1, 2), keepdims=True)
    neural = apertures.reshape(n_time, -1) @ rf.reshape(n_voxels, -1).T
    hrf = _double_gamma(tr)
    bold = np.stack([np.convolve(neural[:, v], hrf)[:n_time] for v in range(n_voxels)], axis=1)
    bold = bold / bold.max(axis=0, keepdims=True) * pars["amplitude"] + pars["baseline"]
    bold += rng.normal(0, noise, bold.shape)

    side = int(np.ceil(n_voxels ** (1 / 3)))
    i, j, k = np.unravel_index(np.arange(n_voxels), (side, side, side))
    time = np.arange(n_time) * tr
    ds = xr.Dataset(
        {
            "bold": (("time", "voxel"), bold.astype(np.float32), {"units": "a.u.", "tr": tr}),
            "paradigm": (("time", "y", "x"), apertures, {"long_name": "bar aperture"}),
            **{
                f"true_{name}": ("voxel", value.astype(np.float32), {"long_name": f"true pRF {name}"})
                for name, value in pars.items()
            },
        },
        coords={
            "time": ("time", time, {"units": "s"}),
            "voxel": np.arange(n_voxels),
            "i": ("voxel", i),
            "j": ("voxel", j),
            "k": ("voxel", k),
            "roi": ("voxel", np.where(np.asarray(pars["x"]) < 0, "V1_right", "V1_left")),
            "y": ("y", coords, {"units": "deg"}),
            "x": ("x", coords, {"units": "deg"}),
        },
        attrs={"tr": tr, "title": "xneuro sample pRF experiment", "seed": seed},
    )
    return ds
