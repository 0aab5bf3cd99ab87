"""Parameter transforms: reference values, round trips, and each model's labels and bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xneuro.encoding import (
    DifferenceOfGaussiansPRF2D,
    DivisiveNormalizationGaussianPRF2DWithHRF,
    GaussianPRF,
    GaussianPRF2D,
    GaussianPRF2DWithHRF,
    LinearModelWithBaselineHRF,
    LogGaussianPRF,
    VonMisesPRF,
)
from xneuro.encoding import _transforms as tf
from xneuro.hrf import SPMHRFModel

GRID = np.column_stack([g.ravel() for g in np.meshgrid(np.linspace(-1, 1, 3),
                                                         np.linspace(-1, 1, 3))])


def test_reference_values():
    with jax.enable_x64(True):
        u = jnp.asarray([0.0, 0.01, 2.0, 1.0])
        values = [np.asarray(jax.jit(t.forward)(u)) for t in (
            tf.SOFTPLUS, tf.AGGRESSIVE_SOFTPLUS, tf.SHIFTED_SOFTPLUS, tf.sigmoid(3.0, 7.0))]
        softplus, aggressive, shifted, bounded = values
        assert softplus[0] == pytest.approx(np.log(2.0))
        # aggressive softplus: softplus(100 u) / 100; at u = 0.01: log(1 + e) / 100
        assert aggressive[1] == pytest.approx(0.013132617, rel=1e-8)
        assert aggressive[2] == pytest.approx(2.0, rel=1e-12)
        assert shifted[0] == pytest.approx(1 + np.log(2.0))
        assert bounded[0] == 5.0 and bounded[3] == pytest.approx(5.924234, abs=1e-6)
        assert float(jax.jit(tf.softplus_inverse)(np.log(2.0))) == pytest.approx(0.0, abs=1e-12)
    assert (tf.sigmoid(3.0, 7.0).lower, tf.sigmoid(3.0, 7.0).upper) == (3.0, 7.0)


def test_round_trips():
    transforms = [tf.IDENTITY, tf.SOFTPLUS, tf.AGGRESSIVE_SOFTPLUS, tf.SHIFTED_SOFTPLUS,
                  tf.sigmoid(0.3, 2.0)]
    u = np.linspace(-3, 3, 13)

    @jax.jit
    def both(u):
        forward = [t.forward(u) for t in transforms]
        return forward, [t.backward(p) for t, p in zip(transforms, forward, strict=True)]

    with jax.enable_x64(True):
        forward, backward = both(jnp.asarray(u))
    for t, p, back in zip(transforms, forward, backward, strict=True):
        assert np.all(np.asarray(p) > t.lower) and np.all(np.asarray(p) < t.upper), t.name
        np.testing.assert_allclose(np.asarray(back), u, atol=1e-9, err_msg=t.name)


def _models():
    hrf = SPMHRFModel(tr=1.0, unique_hrfs=True)
    return {
        "GaussianPRF": (GaussianPRF(), ["mu", "sd", "amplitude", "baseline"],
                        ["identity", "aggressive_softplus", "aggressive_softplus", "identity"]),
        "GaussianPRF_neg": (GaussianPRF(allow_neg_amplitudes=True),
                            ["mu", "sd", "amplitude", "baseline"],
                            ["identity", "aggressive_softplus", "identity", "identity"]),
        "VonMisesPRF": (VonMisesPRF(), ["mu", "kappa", "amplitude", "baseline"],
                        ["identity", "aggressive_softplus", "aggressive_softplus", "identity"]),
        "LogGaussianPRF": (LogGaussianPRF(parameterisation="mode_fwhm_natural"),
                           ["mode", "fwhm", "amplitude", "baseline"],
                           ["softplus", "softplus", "softplus", "identity"]),
        "GaussianPRF2D": (GaussianPRF2D(grid_coordinates=GRID),
                          ["x", "y", "sd", "baseline", "amplitude"],
                          ["identity", "identity", "softplus", "identity", "identity"]),
        "DoG": (DifferenceOfGaussiansPRF2D(grid_coordinates=GRID),
                ["x", "y", "sd", "baseline", "amplitude", "srf_amplitude", "srf_size"],
                ["identity", "identity", "softplus", "identity", "softplus", "softplus",
                 "softplus"]),
        "DN+HRF": (DivisiveNormalizationGaussianPRF2DWithHRF(grid_coordinates=GRID,
                                                             hrf_model=hrf),
                   ["x", "y", "sd", "rf_amplitude", "srf_amplitude", "srf_size",
                    "neural_baseline", "surround_baseline", "bold_baseline", "hrf_delay",
                    "hrf_dispersion"],
                   ["identity", "identity", "softplus", "identity", "softplus",
                    "shifted_softplus", "softplus", "softplus", "identity"]),
        "2D+HRF fixed": (GaussianPRF2DWithHRF(grid_coordinates=GRID, hrf_model=SPMHRFModel(1.0)),
                         ["x", "y", "sd", "baseline", "amplitude"],
                         ["identity", "identity", "softplus", "identity", "identity"]),
        "Linear+HRF": (LinearModelWithBaselineHRF(hrf_model=SPMHRFModel(1.0)), ["baseline"],
                       ["identity"]),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_model_labels_transforms_and_round_trip(name):
    model, labels, transforms = _models()[name]
    assert model.get_parameter_labels() == labels
    assert [t.name for t in model.transforms] == transforms
    assert list(model.bounds) == labels
    rng = np.random.default_rng(1)
    u = rng.normal(size=(4, len(labels)))
    with jax.enable_x64(True):
        p, back = jax.jit(lambda u: (model.transform_forward(u), model.transform_backward(
            model.transform_forward(u))))(jnp.asarray(u))
    p = np.asarray(p)
    for i, label in enumerate(labels):
        lower, upper = model.bounds[label]
        assert np.all((p[:, i] > lower) & (p[:, i] < upper)), label
    np.testing.assert_allclose(np.asarray(back), u, atol=1e-8)


def test_hrf_labels_use_the_hrf_bounds():
    model = _models()["DN+HRF"][0]
    assert model.bounds["hrf_delay"] == (3.0, 7.0)
    with jax.enable_x64(True):
        p = np.asarray(model.jitted("transform_forward")(jnp.zeros((1, 11))))
    np.testing.assert_allclose(p[0, -2:], [5.0, 1.15])
    assert p[0, 5] == pytest.approx(1 + np.log(2.0))  # srf_size = 1 + softplus(0)
