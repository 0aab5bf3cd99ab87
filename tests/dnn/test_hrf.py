import numpy as np
import pytest
import scipy.signal
import xarray as xr
from scipy.stats import gamma

from xneuro.core.errors import InputError
from xneuro.dnn import convolve_hrf
from xneuro.dnn.hrf import design_matrix, hrf_kernel


def dnnbrain_convolve(x, onsets, durations, n_vol, tr, ops=100):
    """dnnbrain's convolve_hrf as documented (boxcar, FFT convolution with nipy's kernel)."""
    decimals = int(np.log10(ops))
    onsets = np.round(np.asarray(onsets, float), decimals)
    durations = np.round(np.asarray(durations, float), decimals)
    clipped, first = 0, onsets.min()
    if first > 0:  # a zero event fills [0, first onset)
        x = np.insert(x, 0, 0.0, axis=0)
        onsets, durations, first = np.insert(onsets, 0, 0), np.insert(durations, 0, first), 0
    elif first < 0:
        clipped = int(-first * ops)
    volumes = (np.arange(n_vol) * tr * ops).astype(int)
    boxcar = np.zeros((int(((onsets + durations).max() - first) * ops), x.shape[1]), np.float32)
    for i, onset in enumerate(onsets):
        start = int(onset * ops)
        boxcar[start:int(start + durations[i] * ops)] = x[i]
    t = np.linspace(0, 32, int(32 * ops))
    hrf = gamma.pdf(t, 6, loc=1 / ops) - 0.167 * gamma.pdf(t, 16, loc=1 / ops)
    hrf /= hrf.sum()
    return scipy.signal.convolve(boxcar, hrf[:, None], method="fft")[clipped:][volumes]


def _events(n):
    return 6.0 + 4.0 * np.arange(n), np.ones(n)


def test_hand_computed_boxcar_kernel():
    # ops=1: a 3-sample box kernel (1/3 each); one event on samples 1, 2 with activation 3
    da = xr.DataArray([[3.0]], dims=("stimulus", "unit"))
    out = convolve_hrf(da, [1.0], [2.0], n_vol=6, tr=1.0, ops=1,
                       hrf=lambda t: np.where(t < 3, 1.0, 0.0))
    np.testing.assert_allclose(out.values[:, 0], [0, 1, 2, 2, 1, 0], atol=1e-12)
    assert out.dims == ("time", "unit") and out.attrs["tr"] == 1.0
    np.testing.assert_array_equal(out["time"].values, np.arange(6.0))


def test_equals_dnnbrain_for_positive_onsets(rng):
    x = rng.standard_normal((20, 15)).astype(np.float32)
    onsets, durations = _events(20)
    expected = dnnbrain_convolve(x, onsets, durations, n_vol=45, tr=2.0)
    da = xr.DataArray(x, dims=("stimulus", "unit"))
    out = convolve_hrf(da, onsets, durations, n_vol=45, tr=2.0, hrf="dnnbrain")
    np.testing.assert_allclose(out.values, expected, rtol=1e-4, atol=1e-5)


def test_negative_onsets_are_correct_where_dnnbrain_is_not(rng):
    """Moving every event 10 s earlier moves the prediction 5 volumes (TR 2) earlier."""
    x = rng.standard_normal((12, 3))
    onsets, durations = _events(12)
    da = xr.DataArray(x, dims=("stimulus", "unit"))
    shifted = convolve_hrf(da, onsets - 10, durations, n_vol=30, tr=2.0).values
    reference = convolve_hrf(da, onsets, durations, n_vol=35, tr=2.0).values[5:]
    np.testing.assert_allclose(shifted, reference, atol=1e-12)
    # the first event (at -4 s) still contributes its tail at the first volume
    assert np.abs(shifted[0]).max() > 0
    # dnnbrain instead shifts every event by |min onset| (here 4 s): its result differs
    wrong = dnnbrain_convolve(x.astype(np.float32), onsets - 10, durations, n_vol=30, tr=2.0)
    good = convolve_hrf(da, onsets - 10, durations, n_vol=30, tr=2.0, hrf="dnnbrain").values
    assert np.abs(wrong - good).max() > 0.1 * np.abs(good).max()


def test_events_after_the_run_contribute_nothing(rng):
    x = rng.standard_normal((3, 4))
    da = xr.DataArray(x, dims=("stimulus", "unit"))
    out = convolve_hrf(da, [0.0, 10.0, 500.0], [2.0, 2.0, 2.0], n_vol=40, tr=2.0)
    zeroed = convolve_hrf(da.where(np.arange(3)[:, None] < 2, 0.0), [0.0, 10.0, 500.0],
                          [2.0, 2.0, 2.0], n_vol=40, tr=2.0)
    np.testing.assert_allclose(out.values, zeroed.values, atol=1e-12)


def test_sustained_activation_converges_to_its_value():
    da = xr.DataArray([[2.0]], dims=("stimulus", "unit"))
    out = convolve_hrf(da, [0.0], [200.0], n_vol=100, tr=2.0)
    np.testing.assert_allclose(out.values[40:95, 0], 2.0, rtol=1e-6)


def test_spm_kernel_from_xneuro_hrf_peaks_near_5_seconds():
    kernel = hrf_kernel("spm", 100)
    assert kernel.sum() == pytest.approx(1.0)
    assert 4.5 < np.argmax(kernel) / 100 < 5.5
    overlapping = design_matrix([0.0, 0.5], [1.0, 1.0], 10, 1.0)
    single = design_matrix([0.0], [1.0], 10, 1.0) + design_matrix([0.5], [1.0], 10, 1.0)
    np.testing.assert_allclose(overlapping.sum(1), single[:, 0], atol=1e-12)  # events add


def test_tree_lazy_and_labels(tree, no_compute):
    onsets, durations = _events(12)
    out = convolve_hrf(tree.chunk({"stimulus": 5}), onsets, durations, n_vol=30, tr=2.0)
    conv = out["conv"]["activation"]
    assert conv.dims == ("time", "channel", "row", "column") and conv.chunks is not None
    assert "category" not in conv.coords


def test_dask_equals_numpy(tree):
    onsets, durations = _events(12)
    lazy = convolve_hrf(tree.chunk({"stimulus": 5}), onsets, durations, n_vol=30, tr=2.0)
    eager = convolve_hrf(tree, onsets, durations, n_vol=30, tr=2.0)
    for name in ("conv", "fc"):
        np.testing.assert_allclose(lazy[name]["activation"].values,
                                   eager[name]["activation"].values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"durations": np.ones(11)}, "durations: has 11 values but onsets has 12"),
        ({"onsets": np.arange(5.0), "durations": np.ones(5)}, "onsets: has 5 events but layer"),
        ({"durations": -np.ones(12)}, "durations: has negative values"),
        ({"n_vol": 0}, "n_vol: is 0"),
        ({"tr": -2.0}, "tr: is -2.0"),
        ({"ops": 0}, "ops: is 0"),
        ({"hrf": "glover"}, "hrf: is 'glover'"),
    ],
)
def test_bad_inputs(tree, kwargs, match):
    onsets, durations = _events(12)
    args = {"onsets": onsets, "durations": durations, "n_vol": 30, "tr": 2.0, **kwargs}
    with pytest.raises(InputError, match=match):
        convolve_hrf(tree, **args)
