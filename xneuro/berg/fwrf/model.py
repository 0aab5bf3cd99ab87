"""``fmri-nsd-fwrf`` as an :class:`~xneuro.berg.base.EncodingModel`: checks, labels, loading.

Responses are labeled ``(stimulus, voxel)``; each voxel carries its volume
indices ``i, j, k`` (the C-order ``True`` voxels of the ROI's
``roi_mask_volume``), world coordinates ``x, y, z`` in mm (``fmri_affine``),
its ``roi`` and the ``subject``. Beyond BERG, ``selection["roi"]`` may be a
list: the ROIs' voxels are concatenated in the order given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.berg import validate as checks
from xneuro.berg.base import EncodingModel, Recipe
from xneuro.berg.errors import InvalidParameterError, ModelLoadError
from xneuro.berg.fwrf import layout
from xneuro.berg.safe_load import load_checkpoint, load_npy
from xneuro.core.errors import input_error

__all__ = ["FwrfModel"]

logger = logging.getLogger("xneuro.berg.fwrf")

_PER_VOXEL = ("ncsnr", "r2", "noise_ceiling", "explained_variance")
_IMAGE_SETS = ("train_img_num", "val_img_num", "test_img_num")


def _get(meta: Any, path: Path, *keys: str) -> Any:
    value = meta
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            raise ModelLoadError(
                f"{path}: metadata has no {'/'.join(keys)!r} entry; fix: download the "
                "metadata file again."
            )
        value = value[key]
    return value


class FwrfModel(EncodingModel):
    """The NSD fwRF encoding models of BERG (one subject, one or more ROIs)."""

    model_id = layout.MODEL_ID
    title = "NSD feature-weighted receptive field (GNet) models, subject-native volume"
    training_dataset = "nsd"
    valid_subjects = layout.SUBJECTS
    selection_keys = ("roi",)
    input_size = 227
    output_dim = "voxel"

    @classmethod
    def resolve(cls, subject: Any, selection: Any) -> tuple[tuple[int, ...], dict[str, Any], bool]:
        """Check the subject (an int 1-8) and ``selection={"roi": str or list of str}``."""
        s = checks.validate_subject(subject, cls.valid_subjects)
        if selection is None:
            raise input_error(
                "selection", "is required but was not provided",
                expected="a dict like {'roi': 'V1'}", fix=f"pick ROIs from {list(layout.ROIS)}",
                cls=InvalidParameterError,
            )
        selection = checks.validate_selection_keys(selection, cls.selection_keys)
        rois = selection.get("roi")
        if isinstance(rois, str):
            rois = [rois]
        if not isinstance(rois, list | tuple) or not rois:
            raise input_error(
                "selection['roi']", f"is {rois!r} (an empty selection)",
                expected="an ROI name, or a non-empty list of them",
                fix="pass e.g. selection={'roi': 'V1'}", cls=InvalidParameterError,
            )
        rois = tuple(checks.validate_roi(roi, layout.ROIS) for roi in rois)
        if len(set(rois)) != len(rois):
            raise input_error("selection['roi']", f"repeats ROIs in {list(rois)}",
                              expected="each ROI once", cls=InvalidParameterError)
        return (s,), {"roi": rois}, True

    @classmethod
    def required_files(
        cls, berg_dir: Path, subjects: Sequence[int], selection: Mapping[str, Any]
    ) -> list[tuple[Path, str]]:
        """Metadata and weight files of every ROI."""
        files = []
        for roi in selection["roi"]:
            files.append((layout.metadata_path(berg_dir, subjects[0], roi), "metadata file"))
            files += [(p, "weights file") for p in layout.weights_paths(berg_dir, subjects[0], roi)]
        return files

    @classmethod
    def read_metadata(cls, berg_dir: Path, subject: Any, roi: Any = None, **kwargs: Any) -> Any:
        """BERG's metadata dict of one subject and ROI (``roi`` is required)."""
        if kwargs:
            raise input_error("get_model_metadata", f"got unexpected arguments {sorted(kwargs)}",
                              expected="subject and roi", cls=InvalidParameterError)
        s = checks.validate_subject(subject, cls.valid_subjects)
        if roi is None:
            raise input_error("roi", "is required for fmri-nsd-fwrf metadata",
                              fix="pass roi='V1' (or another ROI)", cls=InvalidParameterError)
        checks.validate_roi(roi, layout.ROIS)
        return load_npy(layout.metadata_path(berg_dir, s, roi))

    @classmethod
    def build(
        cls, berg_dir: Path, subjects: tuple[int, ...], selection: dict[str, Any],
        scalar_subject: bool, device: str, precision: str,
    ) -> FwrfModel:
        """Read the ROIs' metadata and label the voxels."""
        s = subjects[0]
        columns: dict[str, list[np.ndarray]] = {n: [] for n in ("ijk", "roi", *_PER_VOXEL)}
        affine = shape = images = None
        for roi in selection["roi"]:
            path = layout.metadata_path(berg_dir, s, roi)
            meta = load_npy(path)
            mask = np.asarray(_get(meta, path, "fmri", "roi_mask_volume")).astype(bool)
            ijk = np.stack(np.nonzero(mask), axis=1)
            this_affine = np.asarray(_get(meta, path, "fmri", "fmri_affine"), dtype=float)
            if affine is None:
                affine, shape = this_affine, mask.shape
                images = {k: np.asarray(_get(meta, path, "encoding_models", k))
                          for k in _IMAGE_SETS}
            elif mask.shape != shape or not np.allclose(affine, this_affine):
                raise ModelLoadError(f"{path}: volume or affine differs from the other ROIs' "
                                     "of this subject; fix: download the metadata again.")
            for name in _PER_VOXEL:
                group = "fmri" if name == "ncsnr" else "encoding_models"
                values = np.asarray(_get(meta, path, group, name), dtype=np.float32)
                if values.shape != (len(ijk),):
                    raise ModelLoadError(
                        f"{path}: {name} has shape {values.shape} but the ROI mask has "
                        f"{len(ijk)} voxels; fix: download the metadata file again."
                    )
                columns[name].append(values)
            columns["ijk"].append(ijk)
            columns["roi"].append(np.full(len(ijk), roi))
        ijk = np.concatenate(columns["ijk"])
        world = np.c_[ijk, np.ones(len(ijk))] @ affine.T
        labels = xr.Coordinates({
            "voxel": np.arange(len(ijk)),
            **{axis: ("voxel", ijk[:, n]) for n, axis in enumerate("ijk")},
            **{axis: ("voxel", world[:, n]) for n, axis in enumerate("xyz")},
            "roi": ("voxel", np.concatenate(columns["roi"]).astype(str)),
            "subject": s,
        })
        recipe = Recipe(cls.model_id, str(berg_dir), subjects, selection, device, precision)
        attrs = {
            "volume_shape": [int(n) for n in shape],
            "affine": affine.tolist(),
            "space": "NSD func1pt8mm (subject-native volume)",
            "units": "z-scored betas (betas_fithrf_GLMdenoise_RR)",
        }
        model = cls(recipe, labels, attrs)
        model._per_voxel = {n: np.concatenate(columns[n]) for n in _PER_VOXEL}
        model._images = images
        return model

    @classmethod
    def load_network(cls, recipe: Recipe) -> Any:
        """Load every weight file of the ROIs: backbone and readout of the subject."""
        from xneuro.berg.fwrf.network import Backbone, BackboneWidths, FwrfNetwork

        s = recipe.subjects[0]
        parts = []
        for roi in recipe.selection["roi"]:
            for path in layout.weights_paths(recipe.berg_dir, s, roi):
                enc, fwrf = _read_weights(path, s)
                try:
                    widths = BackboneWidths.from_state(enc)
                    backbone = Backbone(widths)
                    backbone.load_state_dict(_with_bn_counters(enc, backbone), strict=True)
                    readout = _readout(fwrf, widths)
                except (KeyError, RuntimeError, ValueError) as err:
                    raise ModelLoadError(
                        f"{path}: the weights do not fit the fwRF network ({err}); fix: "
                        "download the file again."
                    ) from err
                parts.append((backbone, readout))
        return FwrfNetwork(parts, recipe.device, recipe.precision)

    def metadata_dataset(self) -> xr.Dataset:
        """Per-voxel ncsnr, r2, noise ceiling and explained variance; image partitions."""
        data = {name: ("voxel", values) for name, values in self._per_voxel.items()}
        data.update({
            name: (name.replace("_img_num", "_image"), np.asarray(values))
            for name, values in self._images.items()
        })
        ds = xr.Dataset(data, coords=self.labels, attrs={**self.attrs,
                                                          "model_id": self.model_id})
        ds["explained_variance"].attrs["units"] = "% of noise ceiling"
        return ds


def _read_weights(path: Path, subject: int) -> tuple[dict[str, Any], dict[str, Any]]:
    checkpoint = load_checkpoint(path)
    try:
        best = checkpoint["best_params"]
        enc, fwrfs = best["enc"], best["fwrfs"]
    except (KeyError, TypeError) as err:
        raise ModelLoadError(f"{path}: no 'best_params' with 'enc' and 'fwrfs' ({err}); fix: "
                             "download the file again.") from err
    for key in (subject, str(subject)):
        if key in fwrfs:
            return dict(enc), dict(fwrfs[key])
    raise ModelLoadError(f"{path}: 'fwrfs' has subjects {list(fwrfs)}, not {subject}; fix: "
                         "check the file name's subject.")


def _with_bn_counters(state: dict[str, Any], module: Any) -> dict[str, Any]:
    """Add BatchNorm ``num_batches_tracked`` counters that older checkpoints lack."""
    import torch

    out = dict(state)
    for name, buffer in module.state_dict().items():
        if name.endswith("num_batches_tracked") and name not in out:
            out[name] = torch.zeros_like(buffer)
    return out


def _readout(state: dict[str, Any], widths: Any) -> Any:
    from xneuro.berg.fwrf.network import Readout, feature_map_sizes

    expected = {"rf0", "rf1", "rf2", "w", "b"}
    if set(state) != expected:
        raise ValueError(f"fwrf keys {sorted(state)}, expected {sorted(expected)}")
    nv = int(state["b"].shape[0])
    for k, side in enumerate(feature_map_sizes()):
        if tuple(state[f"rf{k}"].shape) != (nv, side, side):
            raise ValueError(f"rf{k} has shape {tuple(state[f'rf{k}'].shape)}, expected "
                             f"({nv}, {side}, {side})")
    if tuple(state["w"].shape) != (nv, sum(widths.feature_channels)):
        raise ValueError(f"w has shape {tuple(state['w'].shape)}, expected "
                         f"({nv}, {sum(widths.feature_channels)})")
    return Readout(state, widths.feature_channels)
