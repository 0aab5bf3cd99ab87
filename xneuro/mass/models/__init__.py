"""Neural-mass models: named states, literature defaults, pure JAX right-hand sides."""

from xneuro.mass.models.base import TIME_SCALE, Model
from xneuro.mass.models.meanfield import MontbrioPazoRoxin, ReducedWongWang
from xneuro.mass.models.oscillators import FitzHughNagumo, Hopf, Kuramoto, Linear, StuartLandau
from xneuro.mass.models.populations import JansenRit, WilsonCowan

# The seed's names.
HopfStep = Hopf
StuartLandauStep = StuartLandau
FitzHughNagumoStep = FitzHughNagumo
KuramotoNetwork = Kuramoto
LinearStep = Linear
JansenRitStep = JansenRit
WilsonCowanStep = WilsonCowan
MontbrioPazoRoxinStep = MontbrioPazoRoxin
ReducedWongWangStep = ReducedWongWang

#: Every public model class, in catalogue order.
MODELS: tuple[type[Model], ...] = (
    Hopf, StuartLandau, FitzHughNagumo, Kuramoto, Linear,
    JansenRit, WilsonCowan, MontbrioPazoRoxin, ReducedWongWang,
)

__all__ = [
    "MODELS", "TIME_SCALE", "Model",
    "FitzHughNagumo", "Hopf", "JansenRit", "Kuramoto", "Linear", "MontbrioPazoRoxin",
    "ReducedWongWang", "StuartLandau", "WilsonCowan",
    "FitzHughNagumoStep", "HopfStep", "JansenRitStep", "KuramotoNetwork", "LinearStep",
    "MontbrioPazoRoxinStep", "ReducedWongWangStep", "StuartLandauStep", "WilsonCowanStep",
]
