"""The ``io`` demo stage: NIfTI maps from the sample, or from a fitted pRF when present."""

from __future__ import annotations

import numpy as np
import pytest
from iohelpers import nib

from xneuro.datasets import sample_bold
from xneuro.demo import DemoContext
from xneuro.demo.io import run


@pytest.fixture(scope="module")
def sample():
    return sample_bold(n_voxels=64, seed=1)


def test_stage_writes_true_maps_without_a_fit(tmp_path, sample):
    context = DemoContext(out=tmp_path, progress=False, shared={"sample": sample})
    lines = run(context)
    assert any("matches the sample exactly: True" in line for line in lines)
    x = nib.load(tmp_path / "prf_x.nii.gz").get_fdata()
    np.testing.assert_allclose(x[sample.i, sample.j, sample.k], sample.true_x, rtol=1e-6)
    assert (tmp_path / "io.png").stat().st_size > 0 and (tmp_path / "io_bold.zarr").is_dir()


def test_stage_prefers_the_fitted_prf(tmp_path, sample):
    fit = (sample[["true_x", "true_y"]].rename(true_x="x", true_y="y") * 0.5)
    context = DemoContext(out=tmp_path, progress=False, shared={"sample": sample, "prf_fit": fit})
    lines = run(context)
    assert any("fitted pRF parameters" in line for line in lines)
    y = nib.load(tmp_path / "prf_y.nii.gz").get_fdata()
    np.testing.assert_allclose(y[sample.i, sample.j, sample.k], 0.5 * sample.true_y, rtol=1e-6)
