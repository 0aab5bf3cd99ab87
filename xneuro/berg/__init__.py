"""In-silico fMRI from BERG's encoding models, as labeled xarray, batched over Dask.

Point :class:`BERG` at a downloaded BERG directory (Brain Encoding Response
Generator) and run its NSD fwRF (``fmri-nsd-fwrf``) and MOSAIC CNN8
(``fmri-mosaic-CNN8_multihead_subNSD_verticesAll``) models:

>>> from xneuro.berg import BERG  # doctest: +SKIP
>>> berg = BERG("path/to/brain-encoding-response-generator")  # doctest: +SKIP
>>> model = berg.get_encoding_model("fmri-nsd-fwrf", subject=1, selection={"roi": "V1"})
>>> resp = berg.encode(model, images, show_progress=True)  # (stimulus, voxel)  # doctest: +SKIP
>>> volume = xneuro.berg.to_volume(resp)  # (stimulus, i, j, k)  # doctest: +SKIP

Files are read with ``torch.load(weights_only=True)`` and a restricted
unpickler; images are checked more strictly than BERG does. Importing this
package does not import torch.
"""

from xneuro.berg.api import BERG
from xneuro.berg.base import EncodingModel, Recipe
from xneuro.berg.encode import auto_batch_size, encode
from xneuro.berg.errors import (
    BERGError,
    InvalidParameterError,
    ModelFileNotFoundError,
    ModelLoadError,
    ModelNotFoundError,
    ResourceError,
    StimulusError,
    UnsafeFileError,
    ValidationError,
)
from xneuro.berg.labels import to_grayordinates, to_volume
from xneuro.berg.registry import list_models, register_model

__all__ = [
    "BERG",
    "BERGError",
    "EncodingModel",
    "InvalidParameterError",
    "ModelFileNotFoundError",
    "ModelLoadError",
    "ModelNotFoundError",
    "Recipe",
    "ResourceError",
    "StimulusError",
    "UnsafeFileError",
    "ValidationError",
    "auto_batch_size",
    "encode",
    "list_models",
    "register_model",
    "to_grayordinates",
    "to_volume",
]
