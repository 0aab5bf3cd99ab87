"""spm_hrf, SPMHRFModel and CustomHRFModel pinned to the double-gamma formula."""

import numpy as np
import pytest
from scipy.stats import gamma

from xneuro.core.errors import DimensionError, InputError
from xneuro.hrf import CustomHRFModel, SPMHRFModel, spm_hrf


def _double_gamma(t, a1=6.0, d1=1.0, a2=16.0, d2=1.0, c=1 / 6):
    t = np.asarray(t, float)
    return gamma.pdf(t, a1, scale=d1) - c * gamma.pdf(t, a2, scale=d2)


def test_spm_hrf_is_the_double_gamma_with_unit_area():
    t = np.arange(0.0, 32.0, 0.5)
    grid = np.arange(0.0, 31.5 + 0.05, 0.1)
    expected = _double_gamma(t) / (_double_gamma(grid).sum() * 0.1)
    np.testing.assert_allclose(spm_hrf(t), expected, rtol=1e-12, atol=1e-15)
    fine = np.arange(0.0, 32.0, 0.1)
    assert spm_hrf(fine).sum() * 0.1 == pytest.approx(1.0, abs=1e-9)


def test_spm_hrf_hand_value_at_the_peak():
    # Gamma(6; a=7, scale=1) = 6^6 e^-6 / 6! ; the undershoot adds -1/6 Gamma(6; 16, 1)
    peak = 6**6 * np.exp(-6) / 720 - (6**15 * np.exp(-6) / 1307674368000) / 6
    area = _double_gamma(np.arange(0.0, 32.0 + 0.05, 0.1), a1=7.0).sum() * 0.1
    value = spm_hrf([0.0, 6.0, 32.0], a1=7.0)[1]
    assert value == pytest.approx(peak / area, rel=1e-12)
    assert peak == pytest.approx(0.160475, abs=1e-6)  # 0.160623 - 0.000148


def test_spm_hrf_broadcasts_parameters_and_accepts_a_column():
    t = np.linspace(0.1, 30.0, 30)[:, None]  # braincoder's (T, 1)
    one = spm_hrf(t)
    assert one.shape == (30,)
    many = spm_hrf(t, a1=[5.0, 6.0, 7.0])
    assert many.shape == (30, 3)
    np.testing.assert_allclose(many[:, 1], one)
    assert np.argmax(many[:, 0]) < np.argmax(many[:, 2])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"t": [[0.0, 1.0], [2.0, 3.0]]}, "t: has shape"),
    ({"t": [-1.0, 0.0]}, "t: has maximum 0 s"),
    ({"t": [0.0, 1.0], "d1": 0.0}, "d1: is 0.0"),
    ({"t": [0.0, np.nan]}, "t: has shape"),
    ({"t": [0.0, 1.0], "highres_dt": -0.1}, "highres_dt: is -0.1"),
])
def test_spm_hrf_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        spm_hrf(**kwargs)


def test_spm_model_kernel_is_sampled_at_the_tr_and_sums_to_one():
    hrf = SPMHRFModel(tr=1.5)
    assert hrf.n_taps == 22  # 0, 1.5, ..., 31.5 s
    np.testing.assert_allclose(hrf.time_stamps, np.arange(22) * 1.5)
    expected = _double_gamma(np.arange(22) * 1.5, a1=7.0, c=0.167)
    np.testing.assert_allclose(hrf.get_hrf(), expected / expected.sum(), rtol=1e-12)
    assert hrf.get_hrf().sum() == pytest.approx(1.0)
    assert hrf.time_stamps[np.argmax(hrf.get_hrf())] == pytest.approx(6.0)


def test_spm_model_delay_and_dispersion_follow_braincoder_parameterisation():
    hrf = SPMHRFModel(tr=1.0, onset=0.5)
    t = np.arange(33) * 1.0 - 0.5
    expected = _double_gamma(t, a1=4.0 / 0.8 + 1, d1=0.8, c=0.167)
    np.testing.assert_allclose(hrf.get_hrf(hrf_delay=4.0, hrf_dispersion=0.8),
                               expected / expected.sum(), rtol=1e-12)
    kernels = hrf.get_hrf(hrf_delay=[4.0, 5.0, 6.0])  # one per voxel, dispersion default
    assert kernels.shape == (33, 3)
    np.testing.assert_allclose(kernels[:, 2], hrf.get_hrf(), rtol=1e-12)
    np.testing.assert_allclose(kernels.sum(0), 1.0)


def test_spm_model_transforms_are_bounded_sigmoids():
    hrf = SPMHRFModel(tr=1.5)
    assert hrf.bounds == {"hrf_delay": (3.0, 7.0), "hrf_dispersion": (0.3, 2.0)}
    values = hrf.transform_forward(np.array([[0.0, 0.0], [1.0, -1.0]]))
    sigmoid_1 = 1 / (1 + np.exp(-1.0))  # 0.7310586
    np.testing.assert_allclose(values, [[5.0, 1.15], [3 + 4 * sigmoid_1, 0.3 + 1.7 * (1 - sigmoid_1)]])
    assert values[1, 0] == pytest.approx(5.924234, abs=1e-6)
    np.testing.assert_allclose(hrf.transform_backward(values), [[0.0, 0.0], [1.0, -1.0]],
                               atol=1e-12)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"tr": 0}, "tr: is 0"),
    ({"tr": 1.5, "delay": 8.0}, r"hrf_delay: has 1 values outside \[3, 7\]"),
    ({"tr": 1.5, "min_hrf_delay": 5.0, "max_hrf_delay": 4.0}, "bounds of hrf_delay"),
    ({"tr": 2.0, "time_length": 1.0}, "time_length: is 1 s, shorter than tr=2 s"),
    ({"tr": 1.5, "ratio": 1.5}, "ratio"),
])
def test_spm_model_bad_settings(kwargs, match):
    with pytest.raises(InputError, match=match):
        SPMHRFModel(**kwargs)


def test_spm_model_bad_parameters():
    hrf = SPMHRFModel(tr=1.5)
    with pytest.raises(InputError, match=r"hrf_delay: has 1 values outside \[3, 7\].*fix: clip"):
        hrf.get_hrf(hrf_delay=[5.0, 9.0])
    with pytest.raises(InputError, match=r"hrf_parameters: has unknown names \['delay'\]"):
        hrf.get_hrf(delay=5.0)
    with pytest.raises(DimensionError, match=r"hrf_parameters: has sizes"):
        hrf.get_hrf(hrf_delay=[5.0, 6.0], hrf_dispersion=[1.0, 1.0, 1.0])


def test_hrf_curve_has_unit_area():
    times, values = SPMHRFModel(tr=2.0).hrf_curve()
    assert values.sum() * 0.1 == pytest.approx(1.0, abs=1e-9)
    assert times[np.argmax(values)] == pytest.approx(6.0)


def test_custom_hrf_model_uses_the_kernel_as_given():
    kernel = np.array([0.0, 0.5, 0.3, 0.2])
    hrf = CustomHRFModel(kernel, tr=2.0)
    assert not hrf.unique_hrfs and hrf.n_taps == 4
    np.testing.assert_array_equal(hrf.get_hrf(), kernel)
    assert CustomHRFModel(np.ones((4, 3))).unique_hrfs
    with pytest.raises(InputError, match=r"hrf: has shape"):
        CustomHRFModel(np.ones((2, 2, 2)))
    with pytest.raises(InputError, match=r"hrf_parameters: has unknown names"):
        hrf.get_hrf(hrf_delay=5.0)
