"""Atlases to ROI masks, ROI timecourses, and dnnbrain's .roi.h5 files."""

from __future__ import annotations

import numpy as np
import pytest
from iohelpers import AFFINE, N_TIME, SHAPE, brain_models, nib, write_cifti, write_nifti

from xneuro.core.errors import DimensionError, InputError
from xneuro.io import atlas_to_masks, extract_rois, load_bold, load_roi_h5, save_roi_h5

h5py = pytest.importorskip("h5py")


@pytest.fixture
def atlas_volume():
    labels = np.zeros(SHAPE, np.int16)
    labels[:3, :, :2] = 1
    labels[3:, :3, :] = 2
    labels[5:, 4:, 3:] = 7
    return labels


@pytest.fixture
def atlas_file(tmp_path, atlas_volume):
    return write_nifti(tmp_path / "atlas.nii.gz", atlas_volume)


@pytest.fixture
def lut(tmp_path):
    path = tmp_path / "LUT.txt"
    path.write_text("# index name r g b a\n0 Unknown 0 0 0 0\n1 V1 255 0 0 0\n"
                    "2 V2 0 255 0 0\n7 hV4 0 0 255 0\n")
    return path


def _by_hand(volume, atlas_volume, label, reduce):
    return reduce(volume[atlas_volume == label], axis=0)  # (n_voxel, time) -> (time,)


@pytest.mark.parametrize("method", ["mean", "median", "max", "min", "std"])
def test_extract_rois_statistics_by_hand(bold_file, atlas_file, atlas_volume, lut, volume,
                                         method):
    bold = load_bold(bold_file, chunks=37)
    rois = extract_rois(bold, atlas_file, method=method, labels=lut)
    assert rois.dims == ("time", "roi")
    assert rois.roi.values.tolist() == ["V1", "V2", "hV4"]
    assert rois.label.values.tolist() == [1, 2, 7]
    assert rois.n_voxel.values.tolist() == [int((atlas_volume == v).sum()) for v in (1, 2, 7)]
    reduce = getattr(np, method)
    for label, name in ((1, "V1"), (2, "V2"), (7, "hV4")):
        np.testing.assert_allclose(rois.sel(roi=name).values,
                                   _by_hand(volume, atlas_volume, label, reduce), rtol=1e-5)
    assert rois.attrs["tr"] == bold.attrs["tr"]


def test_voxel_method_and_roi_selection(bold_file, atlas_file, atlas_volume, lut):
    bold = load_bold(bold_file)
    voxels = extract_rois(bold, atlas_file, method="voxel", labels=lut, rois=["hV4", "V1"])
    n4, n1 = int((atlas_volume == 7).sum()), int((atlas_volume == 1).sum())
    assert voxels.dims == ("time", "voxel") and voxels.sizes["voxel"] == n4 + n1
    assert voxels.roi.values.tolist() == ["hV4"] * n4 + ["V1"] * n1
    assert (atlas_volume[voxels.i, voxels.j, voxels.k] == voxels.label.values).all()
    with pytest.raises(InputError, match="'V9', which is not in the atlas"):
        extract_rois(bold, atlas_file, labels=lut, rois=["V9"])


def test_extract_rois_is_lazy(bold_file, atlas_volume, no_compute):
    bold = load_bold(bold_file)
    rois = extract_rois(bold, atlas_volume, method="median")
    assert rois.chunks is not None and rois.roi.values.tolist() == ["1", "2", "7"]


def test_atlas_to_masks(bold_file, mask_file, atlas_file, atlas_volume, lut):
    bold = load_bold(bold_file, mask=mask_file)
    masks = atlas_to_masks(atlas_file, bold, labels={1: "V1", 2: "V2"})
    assert masks.dims == ("roi", "voxel") and masks.dtype == bool
    assert masks.roi.values.tolist() == ["V1", "V2", "7"]
    expected = atlas_volume[bold.i, bold.j, bold.k] == 2
    np.testing.assert_array_equal(masks.sel(roi="V2").values, expected)
    own = atlas_to_masks(atlas_file, labels=lut)
    assert own.sizes["voxel"] == int(np.prod(SHAPE))
    assert own.n_voxel.values.tolist() == [int((atlas_volume == v).sum()) for v in (1, 2, 7)]


def test_atlas_on_another_grid_names_both(bold_file, tmp_path, atlas_volume):
    moved = AFFINE.copy()
    moved[2, 3] += 5
    other = write_nifti(tmp_path / "moved_atlas.nii", atlas_volume, affine=moved)
    with pytest.raises(DimensionError, match=r"affine \[\[.*but bold has \[\["):
        extract_rois(load_bold(bold_file), other)
    with pytest.raises(DimensionError, match=r"shape \(2, 2, 2\)"):
        extract_rois(load_bold(bold_file), np.ones((2, 2, 2), int))
    with pytest.raises(InputError, match="method: is 'mode'"):
        extract_rois(load_bold(bold_file), atlas_volume, method="mode")


def test_cifti_label_atlas_on_dtseries(dtseries, tmp_path):
    ax = nib.cifti2.cifti2_axes
    labels = np.zeros((1, len(brain_models())), np.float32)
    labels[0, :8] = 1
    labels[0, 14:] = 2
    table = {0: ("???", (0, 0, 0, 0)), 1: ("left_cortex", (1, 0, 0, 1)),
             2: ("thalamus", (0, 1, 0, 1))}
    atlas = write_cifti(tmp_path / "atlas.dlabel.nii", labels, ax.LabelAxis(["parc"], [table]))
    path, data = dtseries
    rois = extract_rois(load_bold(path), atlas)
    assert rois.roi.values.tolist() == ["left_cortex", "thalamus"]
    np.testing.assert_allclose(rois.sel(roi="thalamus").values, data[:, 14:].mean(1), rtol=1e-6)


def test_roi_h5_round_trip_in_dnnbrain_layout(bold_file, atlas_volume, tmp_path):
    rois = extract_rois(load_bold(bold_file), atlas_volume).compute()
    path = save_roi_h5(rois, tmp_path / "sub-01.roi.h5")
    with h5py.File(path, "r") as f:  # what dnnbrain's RoiFile.read does
        assert f.attrs["roi"].tolist() == ["1", "2", "7"]
        assert f["data"].shape == (N_TIME, 3) and f["data"].compression is None
        np.testing.assert_array_equal(f["data"][:, [1]], rois.values[:, [1]])
    back = load_roi_h5(path, tr=1.5)
    np.testing.assert_array_equal(back.values, rois.values)
    assert back.roi.values.tolist() == ["1", "2", "7"] and back.attrs["tr"] == 1.5
    assert load_roi_h5(path, rois=["7"]).shape == (N_TIME, 1)


def test_roi_h5_written_by_dnnbrain_style_code(tmp_path):
    path = tmp_path / "PHA1.roi.h5"
    with h5py.File(path, "w") as f:  # dnnbrain writes a list of str and a plain dataset
        f.attrs["roi"] = ["PHA1_L", "PHA1_R"]
        f.create_dataset("data", data=np.arange(10.0).reshape(5, 2))
    back = load_roi_h5(path, rois=["PHA1_R"])
    np.testing.assert_array_equal(back.values[:, 0], np.arange(1.0, 10, 2))


def test_roi_h5_bad_input(tmp_path, rng):
    import xarray as xr

    rois = xr.DataArray(rng.random((4, 2)), dims=("time", "roi"), coords={"roi": ["a", "b"]})
    with pytest.raises(InputError, match=r"does not end in \.roi\.h5"):
        save_roi_h5(rois, tmp_path / "x.h5")
    with pytest.raises(DimensionError):
        save_roi_h5(rois.rename(roi="region"), tmp_path / "x.roi.h5")
    bad = tmp_path / "bad.roi.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("values", data=np.ones(3))
    with pytest.raises(InputError, match="lacks the 'roi' attribute"):
        load_roi_h5(bad)
