"""``BERG``: BERG's interface over a BERG directory, answering with labeled xarray objects."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.berg.base import PRECISIONS, EncodingModel
from xneuro.berg.encode import encode
from xneuro.berg.errors import InvalidParameterError, ModelFileNotFoundError, ModelLoadError
from xneuro.berg.registry import list_models, model_class
from xneuro.core.backend import resolve_device
from xneuro.core.errors import input_error

__all__ = ["BERG"]

logger = logging.getLogger("xneuro.berg.api")


class BERG:
    """A BERG directory (Brain Encoding Response Generator), used as BERG's ``BERG`` class.

    Parameters
    ----------
    berg_dir : str or PathLike
        Root of a downloaded BERG directory (``encoding_models/modality-fmri/...``).
        Like BERG, the path is only stored; files are checked when a model is loaded.

    Examples
    --------
    >>> berg = BERG("brain-encoding-response-generator")  # doctest: +SKIP
    >>> model = berg.get_encoding_model("fmri-nsd-fwrf", subject=1, selection={"roi": "V1"})
    >>> resp = berg.encode(model, images)  # (stimulus, voxel) DataArray  # doctest: +SKIP
    """

    def __init__(self, berg_dir: str | os.PathLike[str]) -> None:
        if not isinstance(berg_dir, str | os.PathLike):
            raise input_error("berg_dir", f"is a {type(berg_dir).__name__}",
                              expected="the path of a BERG directory")
        self.berg_dir = Path(os.path.abspath(os.fspath(berg_dir)))

    def __repr__(self) -> str:
        return f"BERG({os.fspath(self.berg_dir)!r})"

    def list_models(self) -> list[str]:
        """Return the model IDs xneuro can run, sorted."""
        return list_models()

    def describe(self, model_id: str) -> dict[str, Any]:
        """Return a model's summary: title, subjects, selection keys, input size, output dim."""
        cls = model_class(model_id)
        return {"model_id": cls.model_id, "title": cls.title, "modality": cls.modality,
                "training_dataset": cls.training_dataset, "subjects": list(cls.valid_subjects),
                "selection_keys": list(cls.selection_keys), "input_size": cls.input_size,
                "output_dim": cls.output_dim}

    def get_encoding_model(
        self,
        model_id: str,
        subject: Any,
        selection: dict[str, Any] | None = None,
        device: str = "auto",
        precision: str = "float32",
    ) -> EncodingModel:
        """Load an encoding model (arguments are checked before any file is read).

        Parameters
        ----------
        model_id : str
            A model ID from :meth:`list_models`.
        subject : int, list of int or "all"
            NSD subject(s); ``fmri-nsd-fwrf`` takes one int.
        selection : dict, optional
            Outputs to compute: ``{"roi": "V1"}`` (fwRF, required; a list of ROIs
            is concatenated), or any of ``{"roi": [...], "glasser_group": [...],
            "voxel_index": binary (57051,)}`` (MOSAIC; ``None`` for all vertices).
        device : {"auto", "cpu", "cuda", "cuda:N"}
            Where the network runs.
        precision : {"float32", "bfloat16"}
            ``"bfloat16"`` runs under autocast (for GPUs).

        Returns
        -------
        EncodingModel
            A picklable handle with the network loaded in this process.

        Raises
        ------
        ModelNotFoundError, InvalidParameterError, ValidationError
            For a wrong model ID, subject or selection (before any file is read).
        ModelFileNotFoundError
            If a file is missing; the message gives the expected path.
        ModelLoadError, UnsafeFileError
            If a file cannot be read, does not fit, or holds unsafe content.
        """
        cls = model_class(model_id)
        subjects, resolved, scalar = cls.resolve(subject, selection)
        if precision not in PRECISIONS:
            raise input_error("precision", f"is {precision!r}", expected=f"one of {PRECISIONS}",
                              cls=InvalidParameterError)
        device = resolve_device(device, engine="torch")
        if not self.berg_dir.is_dir():
            raise ModelFileNotFoundError(
                f"BERG directory not found: expected {os.fspath(self.berg_dir)}; fix: pass the "
                "folder you downloaded the BERG bucket into."
            )
        for path, what in cls.required_files(self.berg_dir, subjects, resolved):
            if not path.is_file():
                raise ModelFileNotFoundError(
                    f"{model_id}: {what} not found: expected {os.fspath(path)}; fix: download "
                    "it into the BERG directory (keeping BERG's layout)."
                )
        model = cls.build(self.berg_dir, subjects, resolved, scalar, device, precision)
        network = model.network
        if int(network.n_outputs) != int(np.prod(model.output_shape)):
            model.release()
            raise ModelLoadError(
                f"{model_id}: the weights give {network.n_outputs} outputs but the metadata "
                f"labels {int(np.prod(model.output_shape))}; fix: download the files again."
            )
        logger.info("loaded %r", model)
        return model

    def encode(
        self,
        model: EncodingModel,
        stimulus: Any,
        return_metadata: bool = False,
        show_progress: bool = False,
        batch_size: int | None = None,
        store: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> xr.DataArray | tuple[xr.DataArray, xr.Dataset]:
        """Generate in-silico responses; see :func:`xneuro.berg.encode`."""
        return encode(model, stimulus, return_metadata=return_metadata,
                      show_progress=show_progress, batch_size=batch_size, store=store, **kwargs)

    def get_model_metadata(self, model_id: str, subject: Any, **kwargs: Any) -> Any:
        """Read a model's metadata without loading the model, as BERG returns it.

        Parameters
        ----------
        model_id : str
            A model ID.
        subject : int, list of int or "all"
            Subject(s).
        **kwargs
            ``roi=`` for ``fmri-nsd-fwrf``.

        Returns
        -------
        dict
            BERG's metadata dict (``{"sub-01": dict, ...}`` for several MOSAIC subjects),
            read with a restricted unpickler.
        """
        return model_class(model_id).read_metadata(self.berg_dir, subject, **kwargs)
