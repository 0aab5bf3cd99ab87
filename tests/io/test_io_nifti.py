"""NIfTI and MGH reading: values, coords, laziness, masks and bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import xarray as xr
from iohelpers import AFFINE, N_TIME, SHAPE, TR, nib, shipped, write_nifti

from xneuro.core.errors import DimensionError, InputError
from xneuro.io import load_bold, load_image


def _flat(volume: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(time, voxel) in file (Fortran) order, as load_bold lists voxels."""
    n_time = volume.shape[3] if volume.ndim == 4 else 1
    flat = volume.reshape(-1, n_time, order="F").T
    return flat if mask is None else flat[:, mask.ravel(order="F")]


@pytest.mark.parametrize("fixture", ["bold_file", "bold_gz"])
def test_load_bold_values_coords_and_attrs(request, fixture, volume):
    path = request.getfixturevalue(fixture)
    bold = load_bold(path, chunks={"voxel": 50})
    assert bold.dims == ("time", "voxel") and bold.name == "bold"
    assert bold.chunks[0] == (N_TIME,) and set(bold.chunks[1][:-1]) == {50}
    np.testing.assert_array_equal(bold.values, _flat(volume))
    assert bold.attrs["tr"] == TR
    np.testing.assert_allclose(bold["time"], TR * np.arange(N_TIME))
    assert bold["run"].values.tolist() == [1 if fixture == "bold_file" else 2] * N_TIME
    # voxel 0, 1 are i = 0, 1 (Fortran order); world coords through the affine
    i, j, k = (bold[c].values for c in "ijk")
    assert (i[:3].tolist(), j[:3].tolist(), k[:3].tolist()) == ([0, 1, 2], [0, 0, 0], [0, 0, 0])
    v = 100
    world = AFFINE @ [i[v], j[v], k[v], 1]
    assert [bold["world_x"][v], bold["world_y"][v], bold["world_z"][v]] == pytest.approx(world[:3])
    np.testing.assert_allclose(bold.attrs["affine"], AFFINE)
    assert bold.attrs["volume_shape"] == list(SHAPE)


def test_load_bold_is_lazy(bold_file, bold_gz, mask_file, no_compute):
    for path in (bold_file, bold_gz):
        bold = load_bold(path, mask=mask_file, chunks=40)
        assert bold.chunks is not None
        _ = (bold - bold.mean("time")).std("time")  # builds a graph, computes nothing


def test_mask_file_and_array_agree(bold_file, mask_file, mask_volume, volume):
    by_file = load_bold(bold_file, mask=mask_file)
    by_array = load_bold(bold_file, mask=mask_volume)
    xr.testing.assert_identical(by_file.compute(), by_array.compute())
    assert by_file.sizes["voxel"] == mask_volume.sum()
    np.testing.assert_array_equal(by_file.values, _flat(volume, mask_volume))
    # every voxel in the mask, and only those
    assert mask_volume[by_file.i.values, by_file.j.values, by_file.k.values].all()


def test_threshold_mask_keeps_voxels_whose_mean_exceeds_it(bold_file, volume):
    bold = load_bold(bold_file, mask=100.0)
    expected = volume.mean(axis=3) > 100.0
    assert bold.sizes["voxel"] == expected.sum()
    assert expected[bold.i.values, bold.j.values, bold.k.values].all()


def test_labeled_mask_from_load_image(bold_file, mask_file, mask_volume):
    labeled = load_image(mask_file)
    bold = load_bold(bold_file, mask=labeled)
    assert bold.sizes["voxel"] == mask_volume.sum()


def test_scaled_int16_matches_nibabel_get_fdata():
    path = shipped("functional.nii")  # real SPM file, int16 with scl_slope/scl_inter
    bold = load_bold(path, chunks=200)
    assert bold.dtype == np.float32
    ref = nib.load(path).get_fdata(dtype=np.float32)
    np.testing.assert_array_equal(bold.values, _flat(ref))
    assert bold.attrs["tr"] == 2.0
    raw = load_bold(path, dtype="float64")
    np.testing.assert_allclose(raw.values, _flat(nib.load(path).get_fdata()), rtol=1e-12)


@pytest.mark.parametrize("name", ["example4d.nii.gz", "example_nifti2.nii.gz"])
def test_real_4d_files_match_nibabel(name):
    path = shipped(name)
    bold = load_bold(path, chunks=5000)
    np.testing.assert_array_equal(bold.values, _flat(np.asanyarray(nib.load(path).dataobj)))
    assert bold.dtype == np.int16


def test_real_3d_image_and_big_endian():
    path = shipped("anatomical.nii")  # big-endian int16
    image = load_image(path)
    assert image.dims == ("voxel",) and image.dtype == np.dtype("int16")
    np.testing.assert_array_equal(image.values, _flat(np.asanyarray(nib.load(path).dataobj))[0])


def test_mgz_reads_like_nibabel_with_tr_in_ms():
    path = shipped("test.mgz")
    bold = load_bold(path)
    img = nib.load(path)
    np.testing.assert_array_equal(bold.values, _flat(np.asanyarray(img.dataobj)))
    assert bold.attrs["tr"] == pytest.approx(float(img.header["tr"]) / 1000)
    assert bold.attrs["format"] == "mgh"


def test_gzip_unpack_to_reads_the_same(bold_gz, tmp_path, volume):
    bold = load_bold(bold_gz, unpack_to=tmp_path / "cache", chunks=64)
    assert (tmp_path / "cache" / "sub-01_task-prf_run-2_bold.nii").exists()
    np.testing.assert_array_equal(bold.values, _flat(volume))
    assert bold.attrs["source"] == [str(bold_gz)]


def test_chunk_reads_only_its_slab(bold_file, monkeypatch):
    """A voxel chunk reads the span of its voxels only, in every volume."""
    from xneuro.io import _blocks

    spans = []
    real = _blocks._read_span

    def spy(layout, t0, t1, u0, u1):
        spans.append((t0, t1, u0, u1))
        return real(layout, t0, t1, u0, u1)

    monkeypatch.setattr(_blocks, "_read_span", spy)
    bold = load_bold(bold_file, chunks=42)
    block = bold.isel(voxel=slice(42, 84)).compute()
    assert spans == [(0, N_TIME, 42, 84)] and block.shape == (N_TIME, 42)


# ----------------------------------------------------------------------------- bad input


def test_mask_of_other_shape_names_both(bold_file, tmp_path):
    other = write_nifti(tmp_path / "mask.nii", np.ones((7, 6, 4), np.uint8))
    with pytest.raises(DimensionError, match=r"shape \(7, 6, 4\).*data .* have shape \(7, 6, 5\)"):
        load_bold(bold_file, mask=other)


def test_mask_of_other_affine_names_both(bold_file, tmp_path):
    moved = AFFINE.copy()
    moved[0, 3] += 2.0
    other = write_nifti(tmp_path / "mask.nii", np.ones(SHAPE, np.uint8), affine=moved)
    with pytest.raises(DimensionError, match=r"affine \[\[-2, 0, 0, 42\].*affine \[\[-2, 0, 0, 40\]"):
        load_bold(bold_file, mask=other)


def test_mask_array_of_other_shape(bold_file):
    with pytest.raises(DimensionError, match=r"mask: is an array of shape \(3, 3, 3\)"):
        load_bold(bold_file, mask=np.ones((3, 3, 3), bool))


def test_empty_mask(bold_file):
    with pytest.raises(InputError, match="keeps no voxel"):
        load_bold(bold_file, mask=np.zeros(SHAPE, bool))


def test_3d_data_as_bold(tmp_path):
    path = write_nifti(tmp_path / "anat.nii.gz", np.ones(SHAPE, np.float32))
    with pytest.raises(DimensionError, match=r"single 3-D volume.*load_image"):
        load_bold(path)


def test_missing_tr_needs_tr_argument(tmp_path, volume):
    path = write_nifti(tmp_path / "notr.nii", volume, tr=0.0)
    with pytest.raises(InputError, match=r"tr: is not given .* fix: pass tr="):
        load_bold(path)
    assert load_bold(path, tr=2.0).attrs["tr"] == 2.0


def test_truncated_uncompressed_file(bold_file):
    data = bold_file.read_bytes()
    bold_file.write_bytes(data[: len(data) - 1000])
    with pytest.raises(InputError, match="is truncated or corrupt"):
        load_bold(bold_file)


def test_truncated_gzip_file_fails_clearly_when_read(bold_gz):
    data = bold_gz.read_bytes()
    bold_gz.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="is truncated or corrupt"):
        load_bold(bold_gz).compute()


def test_header_only_fragment_is_unreadable(bold_file):
    bold_file.write_bytes(bold_file.read_bytes()[:100])
    with pytest.raises(InputError, match="could not be read as a neuroimaging image"):
        load_bold(bold_file)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.nii.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"not an image" * 100)
    with pytest.raises(InputError, match="could not be read"):
        load_bold(path)


def test_missing_file_and_bad_chunks(tmp_path, bold_file):
    with pytest.raises(InputError, match="does not exist"):
        load_bold(tmp_path / "nope.nii.gz")
    with pytest.raises(InputError, match="chunks: is"):
        load_bold(bold_file, chunks={"time": 5})
    with pytest.raises(InputError, match="chunks: is"):
        load_bold(bold_file, chunks=0)


def test_importing_xneuro_io_does_not_import_nibabel():
    import subprocess
    import sys

    code = "import sys, xneuro.io; print('nibabel' in sys.modules, 'h5py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
