"""Simulated pRF data shared by the parameter-fit tests (no tests here).

Sizes are kept equal across the test files (100 frames, 24 voxels) so that the
compiled fit programs are reused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xneuro.datasets.sample import bar_sweeps
from xneuro.encoding import GaussianPRF, GaussianPRF2D, GaussianPRF2DWithHRF
from xneuro.hrf import SPMHRFModel

N_TIME = 100
N_VOXELS = 24


def prf_1d(n_voxels: int = N_VOXELS, noise: float = 0.0, seed: int = 0, n_time: int = N_TIME):
    """braincoder's benchmark recipe (Part A): stimulus U(0, 20), mu, sd, amplitude, baseline.

    Returns the model (holding the paradigm), the data ``(T, V)``, the truth as a
    DataFrame and the noise-free prediction.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 20, n_time)
    model = GaussianPRF(paradigm=x)
    truth = pd.DataFrame({"mu": rng.uniform(2, 18, n_voxels), "sd": rng.uniform(0.5, 5, n_voxels),
                          "amplitude": rng.uniform(0.5, 3, n_voxels),
                          "baseline": rng.uniform(-1, 1, n_voxels)})
    clean = model.predict(parameters=truth).to_numpy()
    data = clean + rng.normal(0, noise, clean.shape) if noise else clean
    return model, data, truth, clean


def prf_2d(n_voxels: int = N_VOXELS, noise: float = 0.0, seed: int = 0, hrf: bool = True,
           n_pixels: int = 10):
    """A 2-D Gaussian pRF (with the SPM HRF) watching bar sweeps on an ``n_pixels`` grid."""
    rng = np.random.default_rng(seed)
    paradigm = bar_sweeps(n_pixels)[:N_TIME]
    model = GaussianPRF2DWithHRF(paradigm=paradigm, hrf_model=SPMHRFModel(tr=1.5)) if hrf \
        else GaussianPRF2D(paradigm=paradigm)
    truth = pd.DataFrame({"x": rng.uniform(-0.6, 0.6, n_voxels),
                          "y": rng.uniform(-0.6, 0.6, n_voxels),
                          "sd": rng.uniform(0.15, 0.5, n_voxels),
                          "baseline": rng.uniform(-0.5, 0.5, n_voxels),
                          "amplitude": rng.uniform(1.0, 3.0, n_voxels)})
    clean = model.predict(parameters=truth).to_numpy()
    data = clean + rng.normal(0, noise, clean.shape) if noise else clean
    return model, data, truth, clean


def r2_of(data: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """R² per voxel (column)."""
    centred = data - data.mean(axis=0)
    return 1 - ((data - prediction) ** 2).sum(0) / (centred**2).sum(0)
