"""1-D pRF models pinned to their formulas and to braincoder's reference values."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import vonmises

from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import (
    GaussianPRF,
    GaussianPRFWithHRF,
    LogGaussianPRF,
    LogGaussianPRFWithHRF,
    VonMisesPRF,
    VonMisesPRFWithHRF,
)
from xneuro.hrf import SPMHRFModel


def test_gaussian_prf_reference_values_from_braincoder():
    # reference notes, section 8 (float32, braincoder main)
    model = GaussianPRF(paradigm=np.array([-2.0, 0.0, 1.0, 2.5]))
    pars = pd.DataFrame({"mu": [1.0, -2.0], "sd": [1.0, 1.5], "amplitude": [1.0, 2.0],
                         "baseline": [0.0, 0.5]})
    pred = model.predict(parameters=pars)
    np.testing.assert_allclose(pred[0], [0.011109, 0.606531, 1.0, 0.324652], atol=1e-6)
    np.testing.assert_allclose(pred[1], [2.5, 1.322225, 0.770671, 0.522218], atol=1e-6)
    assert pred.index.name == "frame" and pred.shape == (4, 2)


def test_von_mises_is_the_normalised_density(float64):
    x = np.linspace(-np.pi, np.pi, 25)
    pars = pd.DataFrame({"mu": [0.5, -2.0], "kappa": [2.0, 40.0], "amplitude": [1.5, 1.0],
                         "baseline": [0.1, 0.0]})
    pred = VonMisesPRF(paradigm=x).predict(parameters=pars).to_numpy()
    for v, row in pars.iterrows():
        expected = vonmises.pdf(x, row.kappa, loc=row.mu) * row.amplitude + row.baseline
        np.testing.assert_allclose(pred[:, v], expected, rtol=1e-10)


def test_log_gaussian_mu_sd_formula_and_peak(float64):
    x = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 8.0])
    mu, sd = 3.0, 1.5
    model = LogGaussianPRF(paradigm=x)
    pred = model.predict(parameters=[[mu, sd, 2.0, 0.5]]).to_numpy()[:, 0]
    d = 1 + sd**2 / mu**2
    with np.errstate(divide="ignore"):
        expected = np.exp(-((np.log(x) - np.log(mu / np.sqrt(d))) ** 2) / (2 * np.log(d)))
    expected = np.where(x > 0, expected, 0.0) * 2.0 + 0.5
    np.testing.assert_allclose(pred, expected, rtol=1e-12)
    assert pred[0] == 0.5  # x <= 0: tuning 0 (braincoder: NaN)
    peak = model.predict(paradigm=[mu / np.sqrt(d)], parameters=[[mu, sd, 1.0, 0.0]])
    assert float(peak.iloc[0, 0]) == pytest.approx(1.0)


def test_log_gaussian_mode_fwhm_peaks_at_the_mode_with_that_width(float64):
    mode, fwhm = 5.0, 6.0
    x = np.linspace(0.05, 30, 20000)
    model = LogGaussianPRF(paradigm=x, parameterisation="mode_fwhm_natural")
    pred = model.predict(parameters=pd.DataFrame(
        {"mode": [mode], "fwhm": [fwhm], "amplitude": [1.0], "baseline": [0.0]})).to_numpy()[:, 0]
    assert x[np.argmax(pred)] == pytest.approx(mode, abs=2e-3)
    assert pred.max() == pytest.approx(1.0, abs=1e-6)
    above = x[pred >= 0.5]
    assert above[-1] - above[0] == pytest.approx(fwhm, abs=5e-3)


def test_stimulus_amplitude_column_scales_the_response(float64):
    paradigm = np.array([[0.0, 1.0], [0.0, 0.5], [1.0, 2.0]])
    model = GaussianPRF(paradigm=paradigm, model_stimulus_amplitude=True)
    pred = model.predict(parameters=[[0.0, 1.0, 2.0, 1.0]]).to_numpy()[:, 0]
    np.testing.assert_allclose(pred, [3.0, 2.0, 2 * 2 * np.exp(-0.5) + 1.0])


HRF_CASES = {
    "gaussian": (GaussianPRFWithHRF, GaussianPRF, "sd"),
    "log_gaussian": (LogGaussianPRFWithHRF, LogGaussianPRF, "sd"),
    "von_mises": (VonMisesPRFWithHRF, VonMisesPRF, "kappa"),
}


@pytest.mark.parametrize("case", list(HRF_CASES))
def test_hrf_variant_scales_after_the_convolution(case, float64, ref):
    cls, plain_cls, width = HRF_CASES[case]
    rng = np.random.default_rng(3)
    paradigm = rng.uniform(0.5, 6.0, 60)
    hrf = SPMHRFModel(tr=2.0)
    pars = pd.DataFrame({"mu": [2.0, 4.0], width: [1.0, 2.0], "amplitude": [3.0, 0.5],
                         "baseline": [1.0, -1.0]})
    model = cls(paradigm=paradigm, hrf_model=hrf)
    unit = plain_cls(paradigm=paradigm).predict(
        parameters=pars.assign(amplitude=1.0, baseline=0.0)).to_numpy()
    expected = ref.convolve(unit, hrf.get_hrf()) * pars.amplitude.to_numpy() + \
        pars.baseline.to_numpy()
    np.testing.assert_allclose(model.predict(parameters=pars).to_numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(hrf.get_hrf(), ref.spm_kernel(2.0, 17), rtol=1e-10)


def test_flexible_hrf_parameters_per_voxel(float64, ref):
    rng = np.random.default_rng(4)
    paradigm = rng.uniform(-3, 3, 50)
    hrf = SPMHRFModel(tr=1.5, unique_hrfs=True)
    model = GaussianPRFWithHRF(paradigm=paradigm, hrf_model=hrf)
    assert model.flexible_hrf_parameters
    pars = pd.DataFrame({"mu": [0.0, 1.0], "sd": [1.0, 1.0], "amplitude": [1.0, 2.0],
                         "baseline": [0.0, 0.0], "hrf_delay": [4.0, 6.5],
                         "hrf_dispersion": [0.8, 1.2]})
    pred = model.predict(parameters=pars).to_numpy()
    unit = np.exp(-0.5 * (paradigm[:, None] - pars.mu.to_numpy()) ** 2)
    for v in range(2):
        kernel = hrf.get_hrf(hrf_delay=pars.hrf_delay[v], hrf_dispersion=pars.hrf_dispersion[v])
        np.testing.assert_allclose(pred[:, v], ref.convolve(unit[:, v], kernel) *
                                   pars.amplitude[v], rtol=1e-10)
    fixed = GaussianPRFWithHRF(paradigm=paradigm, hrf_model=hrf, flexible_hrf_parameters=False)
    assert fixed.get_parameter_labels() == ["mu", "sd", "amplitude", "baseline"]


def test_bad_paradigms_and_parameters():
    model = GaussianPRF()
    pars = [[0.0, 1.0, 1.0, 0.0]]
    with pytest.raises(DimensionError, match=r"paradigm: has stimulus dims \{'y': 4, 'x': 5\}.*"
                       r"expected one stimulus value per frame"):
        model.predict(paradigm=np.zeros((3, 4, 5)), parameters=pars)
    with pytest.raises(DimensionError, match=r"model_stimulus_amplitude=True"):
        model.predict(paradigm=np.zeros((3, 2)), parameters=pars)
    with pytest.raises(InputError, match=r"parameters\['amplitude'\]: has 1 values outside "
                       r"\[0, inf\].*allow_neg_amplitudes=True"):
        model.predict(paradigm=[0.0, 1.0], parameters=[[0.0, 1.0, -1.0, 0.0]])
    assert GaussianPRF(allow_neg_amplitudes=True).predict(
        paradigm=[0.0], parameters=[[0.0, 1.0, -1.0, 0.0]]).iloc[0, 0] == -1.0
    with pytest.raises(InputError, match=r"hrf_model: is required by GaussianPRFWithHRF"):
        GaussianPRFWithHRF(paradigm=[0.0, 1.0])
    with pytest.raises(InputError, match=r"parameterisation: is 'mode'"):
        LogGaussianPRF(parameterisation="mode")
    with pytest.raises(DimensionError, match=r"hrf_model: has a kernel of 22 samples.*longer "
                       r"than the 10 frames of paradigm"):
        GaussianPRFWithHRF(paradigm=np.zeros(10), hrf_model=SPMHRFModel(tr=1.5))


def test_long_runs_use_the_fft_path(float64, ref):
    from xneuro.hrf import _kernels

    paradigm = np.random.default_rng(5).uniform(-3, 3, _kernels.TOEPLITZ_MAX_TIME + 100)
    hrf = SPMHRFModel(tr=1.0)
    pars = [[0.0, 1.0, 2.0, 0.5]]
    pred = GaussianPRFWithHRF(paradigm=paradigm, hrf_model=hrf).predict(parameters=pars)
    unit = np.exp(-0.5 * paradigm**2)[:, None]
    np.testing.assert_allclose(pred.to_numpy(), ref.convolve(unit, hrf.get_hrf()) * 2.0 + 0.5,
                               rtol=1e-9, atol=1e-12)
