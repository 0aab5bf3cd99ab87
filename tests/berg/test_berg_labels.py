"""to_volume / to_grayordinates, lazily too, and their accessor twins."""

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xneuro  # noqa: F401  (registers the accessors)
from xneuro.berg import encode, to_grayordinates, to_volume
from xneuro.core.errors import DimensionError, InputError

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def v1_resp(berg, fwrf_v1, images):
    return berg.encode(fwrf_v1, images[:3])


def test_to_volume_rebuilds_the_volume(berg, v1_resp):
    vol = to_volume(v1_resp)
    assert vol.dims == ("stimulus", "i", "j", "k") and vol.shape == (3, 81, 104, 83)
    mask = berg.get_model_metadata("fmri-nsd-fwrf", subject=1, roi="V1")["fmri"][
        "roi_mask_volume"]
    np.testing.assert_array_equal(np.isfinite(vol.values[0]), mask)
    np.testing.assert_array_equal(vol.values[:, mask], v1_resp.values)  # BERG: vol[mask] = resp
    assert vol.attrs["affine"] == v1_resp.attrs["affine"] and vol.attrs["roi"] == "V1"
    assert (vol["category"] == v1_resp["category"]).all()
    assert vol.dtype == v1_resp.dtype == np.float32  # the NaN fill does not widen float32
    assert to_volume(_lazy(v1_resp, 1)).dtype == np.float32


def _lazy(resp, n):
    """The responses with dask-backed data (labels stay in memory, as encode returns them)."""
    return resp.copy(data=dsa.from_array(resp.values, chunks=(n, *resp.shape[1:])))


def test_to_volume_stays_lazy(v1_resp, no_compute):
    vol = to_volume(_lazy(v1_resp, 1))
    assert vol.chunks[0] == (1, 1, 1)


def test_to_volume_lazy_values(v1_resp):
    lazy = to_volume(_lazy(v1_resp, 2), fill_value=0.0)
    xr.testing.assert_equal(lazy.compute(), to_volume(v1_resp, fill_value=0.0))


def test_overlapping_rois_need_a_choice(berg, images):
    model = berg.get_encoding_model("fmri-nsd-fwrf", subject=1,
                                    selection={"roi": ["V1", "early"]}, device="cpu")
    resp = berg.encode(model, images[:1])
    flat = np.ravel_multi_index([resp[c].values for c in "ijk"], (81, 104, 83))
    if len(np.unique(flat)) < len(flat):
        with pytest.raises(DimensionError, match=r"several responses for some voxel positions.*"
                           r"fix: pass roi="):
            to_volume(resp)
    early = to_volume(resp, roi="early")
    assert int(np.isfinite(early.values).sum()) == 5917
    with pytest.raises(InputError, match=r"roi: 'V2' is not among the responses' ROIs"):
        to_volume(resp, roi="V2")


def test_to_grayordinates_lazy(mosaic_full_resp, no_compute):
    lazy = _lazy(mosaic_full_resp, 4)
    full = to_grayordinates(lazy)
    assert full.chunks is not None and full.sizes["vertex"] == 91282


def test_wrong_inputs(v1_resp, mosaic_full_resp):
    with pytest.raises(DimensionError, match=r"to_volume needs the responses of a model whose "
                       r"outputs are voxels"):
        to_volume(mosaic_full_resp)
    with pytest.raises(DimensionError, match=r"lacks coords \['vertex'\]"):
        to_grayordinates(v1_resp)
    with pytest.raises(InputError, match=r"resp: is a ndarray"):
        to_volume(v1_resp.values)


@pytest.mark.parametrize(
    ("method", "function", "fixture", "kwargs"),
    [
        ("to_volume", to_volume, "v1_resp", {}),
        ("to_volume", to_volume, "v1_resp", {"roi": "V1", "fill_value": -1.0}),
        ("to_grayordinates", to_grayordinates, "mosaic_full_resp", {}),
        ("to_grayordinates", to_grayordinates, "mosaic_full_resp", {"fill_value": 0.0}),
    ],
)
def test_accessor_twins_agree(request, method, function, fixture, kwargs):
    obj = request.getfixturevalue(fixture)
    xr.testing.assert_identical(getattr(obj.berg, method)(**kwargs), function(obj, **kwargs))


def test_encode_accessor_twin(fwrf_v1, images):
    a = images[:2].berg.encode(fwrf_v1, batch_size=1)
    b = encode(fwrf_v1, images[:2], batch_size=1)
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
