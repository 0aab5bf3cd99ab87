"""Parameter fits of encoding models: grid search, closed-form refinement, gradient descent.

- :class:`ParameterFitter`: braincoder's fitter (``fit_grid``,
  ``refine_baseline_and_amplitude``, ``fit``), pandas in, pandas out.
- :func:`fit_parameters` (``bold.encode.fit``): the whole pipeline on labeled
  data, lazy over dask voxel chunks, resumable into a Zarr store.

How it is fast: the grid is predicted once and scored against all voxels as
matrix products; the gradient fit runs every voxel of a block in one compiled
JAX program (``lax.while_loop`` over iterations, Adam from optax, float32).
For the 2-D Gaussian pRFs (linear in the paradigm) the paradigm is convolved
with a shared HRF once, the fit works in the column space of the design (its
numerical rank, e.g. 74 of 150 frames for bar sweeps), and the receptive
field has a hand-written backward pass; all three are exact
(:mod:`~xneuro.encoding.fit._predictor`, :mod:`~xneuro.encoding.fit._field`).

Modules: ``_ranges`` (grid ranges), ``_grid`` (grid scoring), ``_refine``
(closed-form amplitude and baseline), ``_gradient`` (the compiled gradient
fit), ``_block`` (one voxel block end to end), ``_run`` (in memory, dask,
resumable store), ``labeled`` (:func:`fit_parameters`), ``fitter``
(:class:`ParameterFitter`).
"""

from xneuro.encoding.fit.fitter import ParameterFitter
from xneuro.encoding.fit.labeled import fit_parameters

__all__ = ["ParameterFitter", "fit_parameters"]
