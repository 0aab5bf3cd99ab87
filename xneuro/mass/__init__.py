"""Whole-brain neural-mass simulation on connectomes, with vectorized sweeps, BOLD and FC.

>>> from xneuro import mass                                   # doctest: +SKIP
>>> conn = mass.connectome("hcp")                              # doctest: +SKIP
>>> sim = conn.mass.simulate(mass.Hopf(), duration=10.0, sweep={"k": [0.1, 0.5]})  # doctest: +SKIP
>>> mass.fc_similarity(mass.bold(sim), conn.fc)               # doctest: +SKIP

Needs JAX (``pip install 'xneuro[jax]'``); the real connectomes need
``pip install 'xneuro[mass]'``.
"""

from xneuro.core.backend import import_optional

import_optional("jax", purpose="xneuro.mass")

from xneuro.mass.bold import bold  # noqa: E402
from xneuro.mass.catalogue import ModelInfo, list_models  # noqa: E402
from xneuro.mass.connectome import connectome  # noqa: E402
from xneuro.mass.coupling import Additive, Coupling, Diffusive, Sine  # noqa: E402
from xneuro.mass.fc import fc, fc_similarity, fcd, fcd_ks  # noqa: E402
from xneuro.mass.fit import FitResult, fit  # noqa: E402
from xneuro.mass.models import (  # noqa: E402
    FitzHughNagumo,
    FitzHughNagumoStep,
    Hopf,
    HopfStep,
    JansenRit,
    JansenRitStep,
    Kuramoto,
    KuramotoNetwork,
    Linear,
    LinearStep,
    Model,
    MontbrioPazoRoxin,
    MontbrioPazoRoxinStep,
    ReducedWongWang,
    ReducedWongWangStep,
    StuartLandau,
    StuartLandauStep,
    WilsonCowan,
    WilsonCowanStep,
)
from xneuro.mass.noise import GaussianNoise, Noise, OUNoise  # noqa: E402
from xneuro.mass.simulate import simulate  # noqa: E402
from xneuro.mass.sweep import DivergenceError  # noqa: E402
from xneuro.mass.utils import (  # noqa: E402
    Array,
    Initializer,
    Parameter,
    bounded_input,
    delay_index,
    delay_steps,
    process_sequence,
    sigmoid,
    sys2nd,
)

__all__ = [
    "Additive", "Array", "Coupling", "Diffusive", "DivergenceError", "FitResult",
    "FitzHughNagumo", "FitzHughNagumoStep", "GaussianNoise", "Hopf", "HopfStep", "Initializer",
    "JansenRit", "JansenRitStep", "Kuramoto", "KuramotoNetwork", "Linear", "LinearStep",
    "Model", "ModelInfo", "MontbrioPazoRoxin", "MontbrioPazoRoxinStep", "Noise", "OUNoise",
    "Parameter", "ReducedWongWang", "ReducedWongWangStep", "Sine", "StuartLandau",
    "StuartLandauStep", "WilsonCowan", "WilsonCowanStep",
    "bold", "bounded_input", "connectome", "delay_index", "delay_steps", "fc", "fc_similarity",
    "fcd", "fcd_ks", "fit", "list_models", "process_sequence", "sigmoid", "simulate", "sys2nd",
]
