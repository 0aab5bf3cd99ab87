"""Writers: NIfTI and CIFTI round trips through Zarr, image space, accessor twins, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from iohelpers import AFFINE, SHAPE, TR, brain_models, nib, shipped

import xneuro
from xneuro.core.errors import DimensionError, InputError
from xneuro.io import load_bold, load_image, to_cifti, to_image, to_nifti


def _header_fields(img):
    h = img.header
    return {
        "sform": (h.get_sform(coded=True)[0].tolist(), int(h["sform_code"])),
        "qform": (np.round(h.get_qform(), 5).tolist(), int(h["qform_code"])),
        "zooms": [float(z) for z in h.get_zooms()],
        "units": h.get_xyzt_units(),
        "descrip": bytes(h["descrip"].item()).split(b"\x00")[0],  # a C string
        "dim_info": h.get_dim_info(),
    }


def _through_zarr(obj, tmp_path, name="store.zarr"):
    xneuro.save(obj, tmp_path / name)
    return xneuro.open(tmp_path / name)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip_through_zarr(bold_file, tmp_path, volume, suffix):
    bold = _through_zarr(load_bold(bold_file, chunks=60), tmp_path)
    out = to_nifti(bold, tmp_path / f"back{suffix}")
    back, ref = nib.load(out), nib.load(bold_file)
    np.testing.assert_array_equal(back.get_fdata(dtype=np.float32), volume)
    assert back.get_data_dtype() == ref.get_data_dtype()
    np.testing.assert_array_equal(back.affine, ref.affine)
    assert _header_fields(back) == _header_fields(ref)


def test_masked_round_trip_has_nan_outside(bold_gz, mask_file, mask_volume, tmp_path, volume):
    bold = _through_zarr(load_bold(bold_gz, mask=mask_file), tmp_path)
    back = nib.load(to_nifti(bold, tmp_path / "masked.nii.gz")).get_fdata(dtype=np.float32)
    np.testing.assert_array_equal(back[mask_volume], volume[mask_volume])
    assert np.isnan(back[~mask_volume]).all()
    again = load_bold(tmp_path / "masked.nii.gz", mask=mask_file)
    xr.testing.assert_equal(again.drop_vars("run"), bold.drop_vars("run"))


@pytest.mark.parametrize("name", ["functional.nii", "example4d.nii.gz"])
def test_real_file_round_trip(name, tmp_path):
    path = shipped(name)
    bold = _through_zarr(load_bold(path, chunks=4000), tmp_path)
    back = nib.load(to_nifti(bold, tmp_path / "back.nii.gz"))
    ref = nib.load(path)
    np.testing.assert_array_equal(back.get_fdata(dtype=np.float32),
                                  ref.get_fdata(dtype=np.float32))
    np.testing.assert_allclose(back.affine, ref.affine, atol=1e-6)
    assert _header_fields(back) == _header_fields(ref)


def test_cifti_round_trip_through_zarr(dtseries, tmp_path):
    path, data = dtseries
    bold = _through_zarr(load_bold(path, chunks=6), tmp_path)
    out = to_cifti(bold, tmp_path / "back.dtseries.nii")
    back, ref = nib.load(out), nib.load(path)
    np.testing.assert_array_equal(back.get_fdata(dtype=np.float32), data)
    assert back.header.get_axis(0) == ref.header.get_axis(0)
    assert back.header.get_axis(1) == ref.header.get_axis(1)
    assert back.nifti_header.get_intent()[0] == "ConnDenseSeries"


def test_real_dconn_round_trip(tmp_path):
    path = shipped("row_major.dconn.nii")
    conn = _through_zarr(load_image(path), tmp_path)
    back, ref = nib.load(to_cifti(conn, tmp_path / "back.dconn.nii")), nib.load(path)
    np.testing.assert_array_equal(back.get_fdata(), ref.get_fdata())
    for axis in (0, 1):
        assert back.header.get_axis(axis) == ref.header.get_axis(axis)


def test_parameter_dataset_to_dscalar_and_back(dscalar, tmp_path):
    path, data = dscalar
    fit = load_image(path).to_dataset("map")
    fit.attrs = load_image(path).attrs
    out = to_cifti(fit, tmp_path / "fit.dscalar.nii")
    maps = load_image(out)
    assert maps["map"].values.tolist() == ["x", "y", "sd"]
    np.testing.assert_array_equal(maps.values, data)


def test_cifti_like_fills_missing_grayordinates_with_nan(dtseries, tmp_path):
    path, data = dtseries
    bold = load_bold(path)
    cortex = bold.isel(voxel=slice(0, 14)).mean("time")
    back = nib.load(to_cifti(cortex, tmp_path / "m.dscalar.nii", like=path)).get_fdata()
    np.testing.assert_allclose(back[0, :14], data[:, :14].mean(0), rtol=1e-6)
    assert np.isnan(back[0, 14:]).all()
    assert nib.load(tmp_path / "m.dscalar.nii").header.get_axis(1) == brain_models()


def test_dataset_writes_one_nifti_per_variable(bold_file, tmp_path):
    bold = load_bold(bold_file)
    fit = xr.Dataset({"x": bold.mean("time"), "r2": bold.std("time")})
    paths = to_nifti(fit, tmp_path / "sub-01_{name}.nii.gz", like=bold_file)
    assert sorted(paths) == ["r2", "x"]
    x = nib.load(paths["x"])
    assert x.shape == SHAPE
    np.testing.assert_allclose(x.get_fdata()[2, 3, 4], bold.mean("time").values[2 + 3 * 7 + 4 * 42],
                               rtol=1e-6)
    with pytest.raises(InputError, match=r"\{name\}"):
        to_nifti(fit, tmp_path / "fit.nii.gz", like=bold_file)


def test_positions_from_like_object_and_from_mask(bold_file, mask_file, mask_volume, tmp_path):
    bold = load_bold(bold_file, mask=mask_file)
    values = np.arange(bold.sizes["voxel"], dtype=np.float32)
    bare = xr.DataArray(values, dims="voxel", coords={"voxel": bold.voxel.values})
    a = nib.load(to_nifti(bare, tmp_path / "a.nii", like=bold)).get_fdata()
    b = nib.load(to_nifti(bare.drop_vars("voxel"), tmp_path / "b.nii", like=bold_file,
                          mask=mask_file)).get_fdata()
    np.testing.assert_array_equal(a, b)
    in_file_order = a.ravel(order="F")[mask_volume.ravel(order="F")]  # i fastest
    np.testing.assert_array_equal(in_file_order, values)
    assert np.isnan(a[~mask_volume]).all()


def test_explicit_affine_and_shape_from_coords(tmp_path):
    sample = xneuro.datasets.sample_bold(n_voxels=60)
    x_map = sample["true_x"]
    img = to_image(x_map, affine=np.diag([3.0, 3.0, 3.0, 1.0]))
    assert img.shape == (4, 4, 4)
    np.testing.assert_allclose(img.get_fdata()[sample.i, sample.j, sample.k], x_map.values)
    assert img.header.get_zooms() == (3.0, 3.0, 3.0)


def test_to_image_matches_streamed_file(bold_file, tmp_path):
    bold = load_bold(bold_file, chunks=17)
    in_memory = to_image(bold)
    streamed = nib.load(to_nifti(bold, tmp_path / "s.nii"))
    np.testing.assert_array_equal(in_memory.get_fdata(), streamed.get_fdata())
    assert in_memory.header.get_zooms()[3] == TR
    np.testing.assert_array_equal(in_memory.affine, AFFINE)


def test_write_is_lazy_until_called(bold_file, no_compute):
    bold = load_bold(bold_file)
    _ = (bold - bold.mean("time"))  # nothing computed before to_nifti


@pytest.mark.parametrize("writer", ["to_nifti", "to_cifti"])
def test_accessor_agrees_with_function(writer, bold_file, dtseries, tmp_path):
    source = load_bold(bold_file) if writer == "to_nifti" else load_bold(dtseries[0])
    suffix = ".nii.gz" if writer == "to_nifti" else ".dtseries.nii"
    function = {"to_nifti": to_nifti, "to_cifti": to_cifti}[writer]
    a = function(source, tmp_path / f"f{suffix}")
    b = getattr(source.xneuro, writer)(tmp_path / f"a{suffix}")
    np.testing.assert_array_equal(nib.load(a).get_fdata(), nib.load(b).get_fdata())


# ----------------------------------------------------------------------------- bad input


def test_writer_errors(bold_file, dtseries, tmp_path):
    bold = load_bold(bold_file)
    with pytest.raises(DimensionError, match="'voxel' dim"):
        to_nifti(bold.rename(voxel="unit"), tmp_path / "a.nii")
    with pytest.raises(DimensionError, match="at most one other dim"):
        to_nifti(bold.expand_dims(echo=2), tmp_path / "a.nii")
    with pytest.raises(InputError, match="carries no image space"):
        to_nifti(xr.DataArray(np.ones(3), dims="voxel"), tmp_path / "a.nii")
    with pytest.raises(InputError, match="no voxel positions"):
        to_nifti(xr.DataArray(np.ones(3), dims="voxel"), tmp_path / "a.nii", like=bold_file)
    with pytest.raises(InputError, match=r"does not end in \.nii"):
        to_nifti(bold, tmp_path / "a.img")
    with pytest.raises(InputError, match=r"does not end in \.dtseries\.nii"):
        to_cifti(load_bold(dtseries[0]), tmp_path / "a.dscalar.nii")
    with pytest.raises(InputError, match="grayordinate coords"):
        to_cifti(bold, tmp_path / "a.dtseries.nii")
    with pytest.raises(InputError, match="coord 'i'"):
        to_nifti(bold.assign_coords(i=bold.i + 10), tmp_path / "a.nii")
    with pytest.raises(InputError, match="folder"):
        to_nifti(bold, tmp_path / "missing" / "a.nii")


def test_maps_built_from_bold_keep_their_space_through_zarr(bold_file, mask_file, tmp_path):
    """The grid rides on the i coord (and structure for CIFTI), so new Datasets keep it."""
    bold = load_bold(bold_file, mask=mask_file)
    fit = xr.Dataset({"x": bold.mean("time"), "sd": bold.std("time")})
    fit.attrs = {}
    fit = _through_zarr(fit, tmp_path)
    x = fit["x"]
    x.attrs = {}
    written = nib.load(x.xneuro.to_nifti(tmp_path / "x_map.nii.gz"))
    np.testing.assert_array_equal(written.affine, nib.load(bold_file).affine)
    assert written.shape == SHAPE
