"""Encoding models of fMRI: HRF-convolved pRF and linear models, closed-form weights.

braincoder's model family on labeled arrays; braincoder users move over by
changing imports (``from xneuro.encoding import GaussianPRF2D, WeightFitter``):

- pRF models: :class:`GaussianPRF`, :class:`VonMisesPRF`, :class:`LogGaussianPRF`
  (1-D), :class:`GaussianPRF2D`, :class:`DifferenceOfGaussiansPRF2D`,
  :class:`DivisiveNormalizationGaussianPRF2D` (images), each with a
  ``...WithHRF`` variant (or pass ``hrf_model=`` to the plain class);
- linear models: :class:`LinearModel`, :class:`LinearModelWithBaseline`,
  :class:`LinearModelWithBaselineHRF`;
- :class:`WeightFitter` / :func:`fit_weights`: closed-form (ridge) weights and R²;
- :func:`predict`: a model's prediction labeled like a BOLD array
  (``bold.encode.predict(model, parameters=...)``).

The pure JAX layer that fitters and decoders differentiate is documented in
:mod:`xneuro.encoding.base`. Importing this package imports JAX (the ``jax``
extra: ``pip install 'xneuro[jax]'``).
"""

from xneuro.core.backend import import_optional

import_optional("jax", purpose="xneuro.encoding (model predictions run in JAX)")

from xneuro.encoding.base import EncodingModel, HRFEncodingModel  # noqa: E402
from xneuro.encoding.labeled import predict  # noqa: E402
from xneuro.encoding.linear import (  # noqa: E402
    LinearModel,
    LinearModelWithBaseline,
    LinearModelWithBaselineHRF,
)
from xneuro.encoding.prf1d import (  # noqa: E402
    GaussianPRF,
    GaussianPRFWithHRF,
    LogGaussianPRF,
    LogGaussianPRFWithHRF,
    VonMisesPRF,
    VonMisesPRFWithHRF,
)
from xneuro.encoding.prf2d import (  # noqa: E402
    DifferenceOfGaussiansPRF2D,
    DifferenceOfGaussiansPRF2DWithHRF,
    DivisiveNormalizationGaussianPRF2D,
    DivisiveNormalizationGaussianPRF2DWithHRF,
    GaussianPRF2D,
    GaussianPRF2DWithHRF,
)
from xneuro.encoding.weights import WeightFitter, fit_weights  # noqa: E402

__all__ = [
    "DifferenceOfGaussiansPRF2D",
    "DifferenceOfGaussiansPRF2DWithHRF",
    "DivisiveNormalizationGaussianPRF2D",
    "DivisiveNormalizationGaussianPRF2DWithHRF",
    "EncodingModel",
    "GaussianPRF",
    "GaussianPRF2D",
    "GaussianPRF2DWithHRF",
    "GaussianPRFWithHRF",
    "HRFEncodingModel",
    "LinearModel",
    "LinearModelWithBaseline",
    "LinearModelWithBaselineHRF",
    "LogGaussianPRF",
    "LogGaussianPRFWithHRF",
    "VonMisesPRF",
    "VonMisesPRFWithHRF",
    "WeightFitter",
    "fit_weights",
    "predict",
]

# Noise models and decoding (issue 5); the labeled twin of ``bold.encode.decode`` is
# ``xneuro.encoding.decode.decode`` (not re-exported: it would hide its module).
from xneuro.encoding.decode import (  # noqa: E402
    get_expected_value,
    get_fisher_information,
    get_map,
    get_sd_posterior,
    get_stimulus_pdf,
    likelihood,
    summarize_posterior,
)
from xneuro.encoding.noise import ResidualFitter, make_omega, pseudo_wwt, shrink_omega  # noqa: E402
from xneuro.encoding.stimulus_fitter import StimulusFitter  # noqa: E402

__all__ += [
    "ResidualFitter", "StimulusFitter", "get_expected_value",
    "get_fisher_information", "get_map", "get_sd_posterior", "get_stimulus_pdf", "likelihood",
    "make_omega", "pseudo_wwt", "shrink_omega", "summarize_posterior",
]

# Parameter fits (issue 4): ``bold.encode.fit`` is ``fit_parameters`` (the package
# ``xneuro.encoding.fit`` holds it and ``ParameterFitter``).
from xneuro.encoding.fit import ParameterFitter, fit_parameters  # noqa: E402

__all__ += ["ParameterFitter", "fit_parameters"]

# Voxelwise ridge from features (issue 7): ``bold.encode.fit_features`` is ``fit_ridge``.
from xneuro.encoding.ridge import (  # noqa: E402
    fit_ridge,
    predict_ridge,
    score_ridge,
    voxel_noise_ceiling,
)

__all__ += ["fit_ridge", "predict_ridge", "score_ridge", "voxel_noise_ceiling"]
