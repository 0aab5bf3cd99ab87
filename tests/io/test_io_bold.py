"""Several runs along time with a run coord; per-run detrending and z-scoring."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import xarray as xr
from iohelpers import AFFINE, N_TIME, SHAPE, TR, write_nifti

from xneuro.core.errors import DimensionError, InputError
from xneuro.io import clean_runs, load_bold


def _flat(volume):
    return volume.reshape(-1, volume.shape[3], order="F").T


def test_runs_concatenate_along_time_with_run_coord(bold_file, bold_gz, volume):
    bold = load_bold([bold_file, bold_gz], chunks=64)
    assert bold.sizes == {"time": 2 * N_TIME, "voxel": int(np.prod(SHAPE))}
    assert bold["run"].values.tolist() == [1] * N_TIME + [2] * N_TIME  # from run-1, run-2
    np.testing.assert_allclose(bold["time"], TR * np.arange(2 * N_TIME))
    np.testing.assert_array_equal(bold.sel(time=bold.run == 2).values, _flat(volume))
    assert bold.attrs["source"] == [str(bold_file), str(bold_gz)]
    labeled = load_bold([bold_file, bold_gz], run_labels=["a", "b"])
    assert labeled["run"].values.tolist() == ["a"] * N_TIME + ["b"] * N_TIME


def test_detrend_and_zscore_per_run_match_hand_computation(bold_file, tmp_path, volume):
    second = write_nifti(tmp_path / "x_run-7_bold.nii", volume * 2 + 5)
    bold = load_bold([bold_file, second], detrend=True, zscore=True, chunks=50)
    assert bold.dtype == np.float32 and bold.attrs["detrend"] == 1 and bold.attrs["zscore"]
    t = np.arange(N_TIME)
    for n, raw in enumerate([volume, volume * 2 + 5]):
        y = _flat(raw).astype(np.float64)
        _, slope = np.polynomial.polynomial.polyfit(t, y, 1)  # lowest degree first
        expected = scipy.stats.zscore(y - np.outer(t, slope), axis=0)
        got = bold.isel(time=slice(n * N_TIME, (n + 1) * N_TIME)).values
        np.testing.assert_allclose(got, expected, atol=2e-5)


def test_detrend_keeps_the_mean_and_removes_a_quadratic(tmp_path):
    t = np.arange(30.0)
    base = np.full((2, 2, 2, 30), 100.0)
    drift = 0.02 * (t - 10) ** 2 + 0.5 * t
    path = write_nifti(tmp_path / "drift.nii", (base + drift).astype(np.float64), tr=2.0)
    bold = load_bold(path, detrend=2)
    np.testing.assert_allclose(bold.values, (100 + drift.mean()) * np.ones((30, 8)), atol=1e-9)
    assert bold.dtype == np.float64


def test_cleaning_is_lazy(bold_file, bold_gz, no_compute):
    bold = load_bold([bold_file, bold_gz], detrend=True, zscore=True)
    assert bold.chunks is not None


def test_clean_runs_on_numpy_and_constant_voxels():
    data = xr.DataArray(np.vstack([np.ones((5, 2)), np.arange(10.0).reshape(5, 2)]),
                        dims=("time", "voxel"), coords={"run": ("time", [1] * 5 + [2] * 5)})
    cleaned = clean_runs(data, zscore=True)
    np.testing.assert_array_equal(cleaned.values[:5], 0.0)  # constant in run 1: 0, not NaN
    np.testing.assert_allclose(cleaned.values[5:].std(axis=0), 1.0)


def test_runs_on_other_grids_or_trs(bold_file, tmp_path, volume):
    moved = AFFINE.copy()
    moved[1, 3] += 4
    other_grid = write_nifti(tmp_path / "moved.nii", volume, affine=moved)
    with pytest.raises(DimensionError, match=r"another voxel grid.*affine"):
        load_bold([bold_file, other_grid])
    other_tr = write_nifti(tmp_path / "tr2.nii", volume, tr=2.0)
    with pytest.raises(InputError, match=r"has TR 2 s but run 1 has 1\.5 s"):
        load_bold([bold_file, other_tr])
    assert load_bold([bold_file, other_tr], tr=1.5).attrs["tr"] == 1.5


def test_bad_cleaning_arguments(bold_file):
    with pytest.raises(InputError, match="detrend: is -1"):
        load_bold(bold_file, detrend=-1)
    with pytest.raises(InputError, match="zscore: is 'yes'"):
        load_bold(bold_file, zscore="yes")
    with pytest.raises(InputError, match="run_labels"):
        load_bold([bold_file, bold_file], run_labels=[1, 1])
    with pytest.raises(InputError, match="runs: is"):
        load_bold([])
    with pytest.raises(InputError, match="tr: is '2'"):
        load_bold(bold_file, tr="2")
