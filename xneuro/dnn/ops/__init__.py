"""Operations on DNN activations, lazy over dask: pooling, feature extraction, masking."""

from xneuro.dnn.ops.fe import FE_AXES, FE_METHODS, fe
from xneuro.dnn.ops.mask import mask
from xneuro.dnn.ops.pool import POOL_METHODS, pool

__all__ = ["FE_AXES", "FE_METHODS", "POOL_METHODS", "fe", "mask", "pool"]
