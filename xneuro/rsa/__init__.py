"""Representational similarity analysis on labeled arrays.

RDMs of any labeled patterns (DNN activations, BOLD, BERG responses) as
Gram-matrix products (:func:`rdm`), their square and condensed forms
(:func:`to_square`, :func:`to_condensed`), comparisons with permutation and
bootstrap inference (:func:`compare`), noise ceilings (:func:`noise_ceiling`),
and dnnbrain's :class:`RDM` container with its ``.rdm.h5`` files.
"""

from xneuro.rsa.ceiling import noise_ceiling
from xneuro.rsa.compare import METHODS, compare
from xneuro.rsa.forms import as_rdm, check_same_items, items_of, to_condensed, to_square
from xneuro.rsa.rdm import ALL_METRICS, rdm
from xneuro.rsa.rdm_class import RDM

__all__ = [
    "ALL_METRICS",
    "METHODS",
    "RDM",
    "as_rdm",
    "check_same_items",
    "compare",
    "items_of",
    "noise_ceiling",
    "rdm",
    "to_condensed",
    "to_square",
]
