"""Helpers for the io tests: generated image files and nibabel's shipped test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

nib = pytest.importorskip("nibabel")

NIB_DATA = Path(nib.__file__).parent / "tests" / "data"
GIFTI_DATA = Path(nib.__file__).parent / "gifti" / "tests" / "data"

AFFINE = np.array([[-2.0, 0, 0, 40], [0, 2.0, 0, -30], [0, 0, 2.5, -10], [0, 0, 0, 1]])
SHAPE = (7, 6, 5)
N_TIME = 12
TR = 1.5


def shipped(name: str, folder: Path = NIB_DATA) -> Path:
    """A real image file shipped inside the nibabel wheel, or skip."""
    path = folder / name
    if not path.exists():
        pytest.skip(f"{name} is not shipped with this nibabel ({nib.__version__})")
    return path


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray = AFFINE, tr: float = TR,
                dtype=None) -> Path:
    img = nib.Nifti1Image(data if dtype is None else data.astype(dtype), affine)
    img.header.set_xyzt_units("mm", "sec")
    if data.ndim == 4:
        img.header.set_zooms((*img.header.get_zooms()[:3], tr))
    img.header["descrip"] = b"xneuro test"
    nib.save(img, path)
    return path


def brain_models():
    """A small brain-model axis: 8 of 10 left vertices, 6 of 9 right, 5 thalamus voxels."""
    ax = nib.cifti2.cifti2_axes
    left = np.zeros(10, bool)
    left[[0, 1, 2, 4, 5, 6, 8, 9]] = True
    right = np.zeros(9, bool)
    right[[1, 2, 3, 5, 7, 8]] = True
    vol = np.zeros((4, 4, 3), bool)
    vol[[0, 1, 1, 2, 3], [1, 1, 2, 2, 3], [0, 1, 1, 2, 2]] = True
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-4, -4, -2]
    return (ax.BrainModelAxis.from_mask(left, name="CortexLeft")
            + ax.BrainModelAxis.from_mask(right, name="CortexRight")
            + ax.BrainModelAxis.from_mask(vol, name="thalamus_left", affine=affine))


def write_cifti(path: Path, data: np.ndarray, row_axis) -> Path:
    img = nib.Cifti2Image(data, header=(row_axis, brain_models()))
    nib.save(img, path)
    return path
