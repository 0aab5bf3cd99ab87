"""CIFTI-2 reading: grayordinate coords, series and scalar axes, real files, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from iohelpers import N_TIME, brain_models, nib, shipped

from xneuro.core.errors import DimensionError, InputError
from xneuro.io import load_bold, load_image


def test_dtseries_as_bold(dtseries):
    path, data = dtseries
    bold = load_bold(path, chunks=7)
    assert bold.dims == ("time", "voxel") and bold.chunks[1][0] == 7
    np.testing.assert_array_equal(bold.values, data)
    assert bold.attrs["tr"] == 0.8
    np.testing.assert_allclose(bold.time, 0.8 * np.arange(N_TIME))
    axis = brain_models()
    assert bold.structure.values.tolist() == axis.name.tolist()
    np.testing.assert_array_equal(bold.vertex, axis.vertex)
    np.testing.assert_array_equal(np.stack([bold.i, bold.j, bold.k], 1), axis.voxel)
    counts = {h: int((bold.hemi == h).sum()) for h in ("left", "right")}
    assert counts == {"left": 8 + 5, "right": 6}  # thalamus_left counts as left
    assert bold.attrs["cifti_nvertices"] == {"CIFTI_STRUCTURE_CORTEX_LEFT": 10,
                                             "CIFTI_STRUCTURE_CORTEX_RIGHT": 9}
    assert bold.attrs["volume_shape"] == [4, 4, 3]


def test_dtseries_mask_selects_grayordinates(dtseries):
    path, data = dtseries
    keep = np.zeros(data.shape[1], bool)
    keep[[0, 3, 4, 15, 18]] = True
    bold = load_bold(path, mask=keep)
    np.testing.assert_array_equal(bold.values, data[:, keep])
    assert bold.voxel.values.tolist() == [0, 3, 4, 15, 18]


def test_dtseries_is_lazy(dtseries, no_compute):
    bold = load_bold(dtseries[0], chunks=5)
    _ = bold.mean("time")


def test_dscalar_maps(dscalar):
    path, data = dscalar
    maps = load_image(path)
    assert maps.dims == ("map", "voxel")
    assert maps["map"].values.tolist() == ["x", "y", "sd"]
    np.testing.assert_array_equal(maps.values, data)
    fit = maps.to_dataset("map")
    np.testing.assert_array_equal(fit["sd"].values, data[2])


def test_real_dconn_file_matches_nibabel():
    path = shipped("row_major.dconn.nii")
    conn = load_image(path)
    assert conn.dims == ("voxel_", "voxel")
    np.testing.assert_array_equal(conn.values, nib.load(path).get_fdata(dtype=np.float32))
    axis = nib.load(path).header.get_axis(1)
    np.testing.assert_array_equal(np.stack([conn.i, conn.j, conn.k], 1), axis.voxel)
    with pytest.raises(DimensionError, match="dense connectome"):
        load_bold(path)


def test_dscalar_is_not_bold(dscalar):
    with pytest.raises(DimensionError, match="scalar/label file with maps"):
        load_bold(dscalar[0])


def test_cifti_without_brain_model_axis(tmp_path, rng):
    ax = nib.cifti2.cifti2_axes
    parcels = ax.ParcelsAxis.from_brain_models(
        [("V1", brain_models()[:4]), ("V2", brain_models()[4:8])])
    img = nib.Cifti2Image(rng.standard_normal((N_TIME, 2)).astype(np.float32),
                          header=(ax.SeriesAxis(0, 1.0, N_TIME), parcels))
    path = tmp_path / "sub-01.ptseries.nii"
    nib.save(img, path)
    with pytest.raises(InputError, match=r"has no brain-model axis.*ParcelsAxis"):
        load_bold(path)


def test_cifti_mask_of_wrong_length(dtseries):
    with pytest.raises(DimensionError, match="1-D boolean array of 19 values"):
        load_bold(dtseries[0], mask=np.ones(5, bool))


def test_truncated_cifti(dtseries):
    path = dtseries[0]
    data = path.read_bytes()
    path.write_bytes(data[:-200])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_bold(path)
