"""DNN activations as lazy labeled arrays: extraction, dnnbrain's toolkit, dnnbrain's files.

- :func:`extract` / :func:`layers`: activations of PyTorch (and Keras) networks,
  several layers in one forward pass, into memory or a resumable Zarr store.
- :func:`pool`, :func:`fe`, :func:`mask`, :func:`convolve_hrf`: lazy operations on
  one layer (DataArray) or a tree of layers (DataTree); accessor twins
  ``obj.dnn.pool(...)`` etc.
- :class:`Activation`, :class:`Mask`, :class:`Stimulus`: dnnbrain's containers
  and file formats (``.act.h5``, ``.dmask.csv``, ``.stim.csv``).

Importing this package imports neither torch nor tensorflow.
"""

from xneuro.dnn.activation import Activation
from xneuro.dnn.extract import extract, layers
from xneuro.dnn.hrf import convolve_hrf
from xneuro.dnn.io_h5 import read_act_h5, write_act_h5
from xneuro.dnn.io_zarr import open_activations, save_activations
from xneuro.dnn.mask import Mask
from xneuro.dnn.ops import fe, mask, pool
from xneuro.dnn.probe import DnnProbe
from xneuro.dnn.stimulus import Stimulus

__all__ = [
    "Activation",
    "DnnProbe",
    "Mask",
    "Stimulus",
    "convolve_hrf",
    "extract",
    "fe",
    "layers",
    "mask",
    "open_activations",
    "pool",
    "read_act_h5",
    "save_activations",
    "write_act_h5",
]
