"""GIFTI functional files: one per hemisphere, joined along voxel."""

from __future__ import annotations

import numpy as np
import pytest
from iohelpers import GIFTI_DATA, nib, shipped

from xneuro.core.errors import DimensionError, InputError
from xneuro.io import load_bold, load_image, to_cifti


def _write_func(path, values, hemi: str | None, step: str = "1500"):
    gifti = nib.gifti
    meta = gifti.GiftiMetaData({"AnatomicalStructurePrimary": hemi} if hemi else {})
    arrays = [gifti.GiftiDataArray(row.astype(np.float32), intent="NIFTI_INTENT_TIME_SERIES",
                                   datatype="NIFTI_TYPE_FLOAT32",
                                   meta=gifti.GiftiMetaData({"TimeStep": step}))
              for row in values]
    nib.save(gifti.GiftiImage(darrays=arrays, meta=meta), path)
    return path


@pytest.fixture
def hemispheres(tmp_path, rng):
    left = rng.standard_normal((6, 11))
    right = rng.standard_normal((6, 9))
    return (_write_func(tmp_path / "sub-01_hemi-R_bold.func.gii", right, "CortexRight"),
            _write_func(tmp_path / "sub-01_hemi-L_bold.func.gii", left, "CortexLeft"),
            left, right)


def test_real_gifti_time_series_matches_nibabel():
    path = shipped("task.func.gii", GIFTI_DATA)
    with pytest.raises(InputError, match="tr: is not given"):
        load_bold(path)  # its TimeStep is 0
    bold = load_bold(path, tr=2.0)
    np.testing.assert_array_equal(bold.values, nib.load(path).agg_data().T)
    assert bold.dims == ("time", "voxel") and bold.attrs["tr"] == 2.0


def test_two_hemispheres_join_left_then_right(hemispheres):
    right_file, left_file, left, right = hemispheres
    bold = load_bold((right_file, left_file), chunks=8)
    assert bold.attrs["tr"] == 1.5  # TimeStep 1500 (ms)
    np.testing.assert_allclose(bold.values, np.concatenate([left, right], 1).astype(np.float32))
    assert bold.hemi.values.tolist() == ["left"] * 11 + ["right"] * 9
    assert bold.vertex.values.tolist() == list(range(11)) + list(range(9))
    assert bold.attrs["cifti_nvertices"] == {"CIFTI_STRUCTURE_CORTEX_LEFT": 11,
                                             "CIFTI_STRUCTURE_CORTEX_RIGHT": 9}


def test_gifti_pair_to_cifti(hemispheres, tmp_path):
    bold = load_bold(hemispheres[:2])
    path = to_cifti(bold, tmp_path / "sub-01.dtseries.nii")
    back = load_bold(path)
    np.testing.assert_array_equal(back.values, bold.values)
    assert back.structure.values.tolist() == bold.structure.values.tolist()


def test_hemisphere_told_by_file_name(tmp_path, rng):
    a = _write_func(tmp_path / "lh.run.func.gii", rng.standard_normal((4, 5)), None)
    b = _write_func(tmp_path / "rh.run.func.gii", rng.standard_normal((4, 6)), None)
    assert load_bold((b, a)).hemi.values.tolist() == ["left"] * 5 + ["right"] * 6


def test_unknown_hemispheres_and_mismatched_runs(tmp_path, rng):
    a = _write_func(tmp_path / "a.func.gii", rng.standard_normal((4, 5)), None)
    b = _write_func(tmp_path / "b.func.gii", rng.standard_normal((4, 6)), None)
    with pytest.raises(InputError, match="hemispheres"):
        load_bold((a, b))
    c = _write_func(tmp_path / "rh.c.func.gii", rng.standard_normal((3, 6)), "CortexRight")
    d = _write_func(tmp_path / "lh.d.func.gii", rng.standard_normal((4, 6)), "CortexLeft")
    with pytest.raises(DimensionError, match=r"\[3, 4\] time points"):
        load_bold((c, d))


def test_surface_mesh_is_refused():
    path = shipped("ascii.gii", GIFTI_DATA)
    with pytest.raises(DimensionError, match="surface mesh"):
        load_image(path)


def test_label_gifti_carries_its_label_table():
    path = shipped("rh.aparc.annot.gii", GIFTI_DATA)
    labels = load_image(path)
    assert labels.dims == ("voxel",) and labels.hemi.values[0] == "right"
    assert len(labels.attrs["labels"]) == 36
