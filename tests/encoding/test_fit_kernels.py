"""The fit's exact shortcuts: analytic field gradients, the reduced design, padding sizes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from test_fit_support import N_TIME

from xneuro.datasets.sample import bar_sweeps
from xneuro.encoding import GaussianPRF2D, GaussianPRF2DWithHRF
from xneuro.encoding.fit._arrays import padded_size
from xneuro.encoding.fit._field import gaussian_field
from xneuro.encoding.fit._predictor import make_predictor
from xneuro.hrf import SPMHRFModel


def _theta(n_voxels, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-0.6, 0.6, n_voxels), rng.uniform(-0.6, 0.6, n_voxels),
                            rng.uniform(0.15, 0.5, n_voxels), rng.uniform(-0.5, 0.5, n_voxels),
                            rng.uniform(1, 3, n_voxels)])


def test_gaussian_field_gradient_equals_autodiff():
    model = GaussianPRF2D(paradigm=bar_sweeps(10)[:N_TIME])
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        theta = jnp.asarray(_theta(16), jnp.float64)
        cotangent = jnp.asarray(rng.normal(size=(len(model._grid), 16)))
        field = gaussian_field(model._grid, model.pixel_area)

        def mine(t):
            return jnp.sum(cotangent * field(t[:, 0], t[:, 1], t[:, 2], t[:, 4]))

        def autodiff(t):
            return jnp.sum(cotangent * model._receptive_field(jnp.float64, t))

        both = jax.jit(lambda t: (mine(t), autodiff(t), jax.grad(mine)(t),
                                  jax.grad(autodiff)(t)))
        value, expected, gradient, expected_gradient = both(theta)
        np.testing.assert_allclose(value, expected, rtol=1e-12)
        np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-9, atol=1e-12)


def test_reduced_design_gives_the_exact_residuals():
    model = GaussianPRF2DWithHRF(paradigm=bar_sweeps(10)[:N_TIME], hrf_model=SPMHRFModel(1.5))
    predictor = make_predictor(model, None)
    assert predictor.convolved and predictor.linear
    t = np.linspace(-1, 1, N_TIME)
    confounds = np.linalg.qr(np.column_stack([t, t**2]))[0]
    with jax.enable_x64(True):
        theta = jnp.asarray(_theta(8), jnp.float64)
        full = np.asarray(jax.jit(model.predict_array)(
            jnp.asarray(model.paradigm_array(dtype="float64")), theta))
        data = full + np.random.default_rng(1).normal(0, 0.3, full.shape)
        for q in (None, confounds):
            basis, projected, outside = predictor.reduce(data.astype(float), q)
            assert basis.shape[0] < data.shape[0]  # the bar sweeps are low-rank
            resid = data - full
            if q is not None:
                resid = resid - q @ (q.T @ resid)
            reduced = np.asarray(jax.jit(predictor.reduced_fn)(jnp.asarray(basis), theta))
            np.testing.assert_allclose(((projected - reduced) ** 2).sum(0) + outside,
                                       (resid**2).sum(0), rtol=1e-8)


def test_padded_sizes_are_few_and_bounded():
    sizes = {padded_size(n) for n in range(1, 5000)}
    assert len(sizes) < 60
    for n in (1, 3, 64, 65, 1000, 4097):
        assert n <= padded_size(n) <= max(n * 9 // 8 + 1, 2 * n if n <= 64 else 0)
