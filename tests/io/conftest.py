"""Fixtures of the io tests: small generated image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from iohelpers import N_TIME, SHAPE, brain_models, nib, write_cifti, write_nifti


@pytest.fixture
def volume(rng) -> np.ndarray:
    """A (7, 6, 5, 12) float32 BOLD volume with a trend and a per-voxel baseline."""
    base = rng.uniform(50, 150, SHAPE)[..., None]
    trend = np.linspace(0, 3, N_TIME)
    return (base + trend + rng.standard_normal((*SHAPE, N_TIME))).astype(np.float32)


@pytest.fixture
def bold_file(tmp_path, volume) -> Path:
    return write_nifti(tmp_path / "sub-01_task-prf_run-1_bold.nii", volume)


@pytest.fixture
def bold_gz(tmp_path, volume) -> Path:
    return write_nifti(tmp_path / "sub-01_task-prf_run-2_bold.nii.gz", volume)


@pytest.fixture
def mask_volume() -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[1:6, 1:5, 1:4] = True
    mask[3, 2, 2] = False
    return mask


@pytest.fixture
def mask_file(tmp_path, mask_volume) -> Path:
    return write_nifti(tmp_path / "sub-01_brainmask.nii.gz", mask_volume.astype(np.uint8))


@pytest.fixture
def dtseries(tmp_path, rng) -> tuple[Path, np.ndarray]:
    axis = brain_models()
    data = rng.standard_normal((N_TIME, len(axis))).astype(np.float32)
    series = nib.cifti2.cifti2_axes.SeriesAxis(start=0.0, step=0.8, size=N_TIME)
    return write_cifti(tmp_path / "sub-01.dtseries.nii", data, series), data


@pytest.fixture
def dscalar(tmp_path, rng) -> tuple[Path, np.ndarray]:
    axis = brain_models()
    data = rng.standard_normal((3, len(axis))).astype(np.float32)
    scalar = nib.cifti2.cifti2_axes.ScalarAxis(["x", "y", "sd"])
    return write_cifti(tmp_path / "sub-01_prf.dscalar.nii", data, scalar), data
