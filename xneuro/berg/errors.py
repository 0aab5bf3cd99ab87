"""Exceptions of :mod:`xneuro.berg`, named as BERG names them.

BERG's classes map onto xneuro's: every BERG error is an
:class:`~xneuro.core.errors.XneuroError`, and the ones about bad arguments are
also :class:`~xneuro.core.errors.InputError` (a ``ValueError``), so code that
catches either library's errors keeps working. As in BERG,
:class:`ValidationError` (a value outside an allowed set: an unknown ROI, a
malformed binary selection vector) is *not* a :class:`BERGError`, while
:class:`InvalidParameterError` (a wrong subject, selection key or selection
shape) is.
"""

from __future__ import annotations

from xneuro.core.errors import InputError, XneuroError

__all__ = [
    "BERGError",
    "InvalidParameterError",
    "ModelFileNotFoundError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ResourceError",
    "StimulusError",
    "UnsafeFileError",
    "ValidationError",
]


class BERGError(XneuroError):
    """Base class of the BERG errors."""


class ModelNotFoundError(BERGError, InputError):
    """The model ID is not in the registry."""


class InvalidParameterError(BERGError, InputError):
    """A subject, selection key or selection shape is not valid for the model."""


class StimulusError(BERGError, InputError):
    """The images given to ``encode`` are not (stimulus, 3, H, W) integers in 0-255."""


class ValidationError(InputError):
    """A value outside its allowed set (an unknown ROI, a non-binary vector)."""


class ModelLoadError(BERGError, RuntimeError):
    """A model's files could not be read or do not fit together."""


class ModelFileNotFoundError(ModelLoadError, FileNotFoundError):
    """A file the model needs is not where the BERG directory layout puts it."""


class UnsafeFileError(ModelLoadError):
    """A checkpoint or metadata file holds a type outside the allow-list; nothing was run."""


class ResourceError(BERGError, RuntimeError):
    """The device or memory cannot run the request."""
