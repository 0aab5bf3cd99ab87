"""``fmri-mosaic-CNN8_multihead_subNSD_verticesAll`` as an :class:`~xneuro.berg.base.EncodingModel`.

Responses are labeled ``(stimulus, vertex)`` (one subject given as an int) or
``(stimulus, subject, vertex)``; ``vertex`` is the index in the 91,282
HCP grayordinates, so :func:`xneuro.berg.to_grayordinates` expands them and
ROI or noise-ceiling lookups are label-based. Each vertex also carries its
``model_index`` (position among the model's 57,051 outputs), ``roi``
(``"L_V1"``...), ``hemi`` and ``glasser_group``.

Selection (as BERG's newest wrapper): the union of the ``roi`` lists' indices,
the vertices of the ``glasser_group`` (s) and the ``voxel_index`` positions,
in ascending grayordinate order. Only the selected outputs are computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.berg import validate as checks
from xneuro.berg.base import EncodingModel, Recipe
from xneuro.berg.errors import InvalidParameterError, ModelLoadError, ValidationError
from xneuro.berg.glasser import GROUPS, N_GRAYORDINATES, N_MODEL_VERTICES, ROI_NAMES
from xneuro.berg.mosaic import layout
from xneuro.berg.safe_load import load_checkpoint, load_npy
from xneuro.core.errors import input_error

__all__ = ["MosaicModel"]


def _read(berg_dir: str | Path, subject: int) -> layout.MosaicMetadata:
    path = layout.metadata_path(berg_dir, subject)
    return layout.parse_metadata(load_npy(path), path)


def _groups(value: Any) -> tuple[int, ...]:
    values = [value] if not isinstance(value, list | tuple | np.ndarray) else list(value)
    if not values:
        raise input_error("selection['glasser_group']", "is an empty list (an empty selection)",
                          expected="a group number or a non-empty list",
                          cls=InvalidParameterError)
    for g in values:
        if not checks._is_int(g) or not 1 <= int(g) <= len(GROUPS):
            raise input_error("selection['glasser_group']", f"holds {g!r}",
                              expected=f"ints from 1 to {len(GROUPS)}", cls=ValidationError)
    return tuple(sorted({int(g) for g in values}))


class MosaicModel(EncodingModel):
    """MOSAIC's CNN8 core with the factorised readouts of NSD subjects 1-8."""

    model_id = layout.MODEL_ID
    title = "MOSAIC CNN8 multihead, NSD subjects, all cortical vertices (57,051)"
    training_dataset = "mosaic"
    valid_subjects = layout.SUBJECTS
    selection_keys = ("roi", "glasser_group", "voxel_index")
    input_size = 224
    output_dim = "vertex"

    @classmethod
    def resolve(cls, subject: Any, selection: Any) -> tuple[tuple[int, ...], dict[str, Any], bool]:
        """Check subjects (int, list or ``"all"``) and the optional selection."""
        subjects, scalar = checks.validate_subjects(subject, cls.valid_subjects)
        if selection is None:
            return subjects, {}, scalar
        given = {k: v for k, v in checks.validate_selection_keys(
            selection, cls.selection_keys).items() if v is not None}
        if not given:
            raise input_error(
                "selection", f"is {selection!r}, an empty selection",
                expected="at least one of 'roi', 'glasser_group', 'voxel_index'",
                fix="pass selection=None for all 57,051 vertices", cls=InvalidParameterError,
            )
        out: dict[str, Any] = {}
        if "roi" in given:
            rois = given["roi"]
            if not isinstance(rois, list | tuple):
                raise input_error(
                    "selection['roi']", f"must be a list, got {type(rois).__name__} {rois!r}",
                    expected="a list of ROI names", fix=f"pass [{rois!r}]",
                    cls=InvalidParameterError,
                )
            if not rois:
                raise input_error("selection['roi']", "is an empty list (an empty selection)",
                                  expected="at least one ROI name", cls=InvalidParameterError)
            out["roi"] = tuple(checks.validate_roi(r, ROI_NAMES) for r in rois)
        if "glasser_group" in given:
            out["glasser_group"] = _groups(given["glasser_group"])
        if "voxel_index" in given:
            mask = checks.validate_binary_array(given["voxel_index"], N_MODEL_VERTICES,
                                                "selection['voxel_index']")
            out["voxel_index"] = np.flatnonzero(mask)
        return subjects, out, scalar

    @classmethod
    def required_files(
        cls, berg_dir: Path, subjects: Sequence[int], selection: Mapping[str, Any]
    ) -> list[tuple[Path, str]]:
        """The weights file and the first subject's metadata (others are read on demand)."""
        return [(layout.weights_path(berg_dir), "weights file"),
                (layout.metadata_path(berg_dir, subjects[0]), "metadata file")]

    @classmethod
    def read_metadata(cls, berg_dir: Path, subject: Any, **kwargs: Any) -> Any:
        """BERG's metadata: one dict, or ``{"sub-01": dict, ...}`` for several subjects."""
        if kwargs:
            raise input_error("get_model_metadata", f"got unexpected arguments {sorted(kwargs)}",
                              expected="subject only", cls=InvalidParameterError)
        subjects, scalar = checks.validate_subjects(subject, cls.valid_subjects)
        metas = {f"sub-{s:02d}": load_npy(layout.metadata_path(berg_dir, s)) for s in subjects}
        return next(iter(metas.values())) if scalar else metas

    @classmethod
    def _select(cls, meta: layout.MosaicMetadata, selection: Mapping[str, Any]) -> np.ndarray:
        mapping = meta.vertex_mapping
        parts = []
        for roi in selection.get("roi", ()):
            if roi not in meta.roi:
                raise input_error("selection['roi']", f"ROI {roi!r} is not in the metadata",
                                  expected=f"one of {sorted(meta.roi)[:8]}...",
                                  cls=InvalidParameterError)
            parts.append(meta.roi[roi])
        if "glasser_group" in selection:
            parts.append(mapping[np.isin(meta.glasser_group, selection["glasser_group"])])
        if "voxel_index" in selection:
            parts.append(mapping[np.asarray(selection["voxel_index"], dtype=np.int64)])
        chosen = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        if chosen.size == 0:
            raise input_error(
                "selection", f"{dict(selection)} selects no vertices",
                expected="ROIs or groups with vertices in the model's space (L_H, R_H and "
                "R_RSC have none after MOSAIC's NaN removal)",
                fix="choose other ROIs or groups", cls=InvalidParameterError,
            )
        return chosen

    @classmethod
    def build(
        cls, berg_dir: Path, subjects: tuple[int, ...], selection: dict[str, Any],
        scalar_subject: bool, device: str, precision: str,
    ) -> MosaicModel:
        """Read the first subject's metadata, resolve the selection and label the vertices."""
        meta = _read(berg_dir, subjects[0])
        mapping = meta.vertex_mapping
        if selection:
            vertex = cls._select(meta, selection)
            order = np.argsort(mapping, kind="stable")
            where = np.searchsorted(mapping, vertex, sorter=order).clip(max=len(mapping) - 1)
            found = mapping[order[where]] == vertex
            positions = np.where(found, order[where], -1)
        else:
            vertex, positions = mapping, np.arange(len(mapping))
        names = np.full(N_GRAYORDINATES, "", dtype=object)
        for name, indices in meta.roi.items():
            names[indices] = name
        group_of = np.zeros(N_GRAYORDINATES, np.int16)
        group_of[mapping] = meta.glasser_group
        roi = names[vertex].astype(str)
        coords: dict[str, Any] = {
            "vertex": vertex.astype(np.int64),
            "model_index": ("vertex", positions.astype(np.int64)),
            "roi": ("vertex", roi),
            "hemi": ("vertex", np.array([r[:1] for r in roi], dtype=str)),
            "glasser_group": ("vertex", group_of[vertex]),
        }
        coords["subject"] = subjects[0] if scalar_subject else ("subject", list(subjects))
        canonical = {k: tuple(v) for k, v in selection.items() if k != "voxel_index"}
        if "voxel_index" in selection:
            digest = hashlib.sha256(np.asarray(selection["voxel_index"], np.int64).tobytes())
            canonical["voxel_index"] = f"{len(selection['voxel_index'])} positions, sha256 " \
                f"{digest.hexdigest()[:16]}"
        recipe = Recipe(cls.model_id, str(berg_dir), subjects, canonical, device, precision,
                        outputs=positions.astype(np.int64))
        attrs = {
            "n_grayordinates": N_GRAYORDINATES,
            "space": "HCP grayordinates (fsLR 32k cortex), 91,282",
            "units": "trial-averaged GLMsingle betas (a.u.)",
        }
        model = cls(recipe, xr.Coordinates(coords), attrs)
        model.n_model_vertices = len(mapping)
        return model

    @classmethod
    def load_network(cls, recipe: Recipe) -> Any:
        """Load the core and the requested rows of the subjects' readouts."""
        import torch

        from xneuro.berg.mosaic.network import CNN8Core, MosaicNetwork, core_output_size

        path = layout.weights_path(recipe.berg_dir)
        state = load_checkpoint(path, mmap=True)
        if not isinstance(state, Mapping):
            raise ModelLoadError(f"{path}: holds a {type(state).__name__}, not a state dict; "
                                 "fix: download the file again.")
        state = {k.removeprefix("module."): v for k, v in state.items()}
        core_state = {k[5:]: v for k, v in state.items() if k.startswith("core.")}
        positions = np.asarray(recipe.outputs)
        rows = torch.from_numpy(positions[positions >= 0])
        try:
            core = CNN8Core(int(core_state["block1.0.weight"].shape[0]))
            core.load_state_dict(core_state, strict=True)
            side = core_output_size()
            readouts = []
            for s in recipe.subjects:
                prefix = f"subject_readouts.{layout.readout_name(s)}."
                spatial, features, bias = (state[prefix + k] for k in ("spatial", "_features",
                                                                      "bias"))
                n = bias.shape[0]
                if (spatial.shape != (n, side, side) or features.shape != (n, core.channels)
                        or (len(rows) and int(rows.max()) >= n)):
                    raise ValueError(
                        f"readout {layout.readout_name(s)} has spatial {tuple(spatial.shape)}, "
                        f"features {tuple(features.shape)}, bias {tuple(bias.shape)}; expected "
                        f"({n}, {side}, {side}), ({n}, {core.channels}) and at least "
                        f"{int(rows.max()) + 1} outputs"
                    )
                if len(rows) == n and bool((rows == torch.arange(n)).all()):
                    readouts.append((spatial, features, bias))  # all outputs, no copy
                else:
                    readouts.append(tuple(t.index_select(0, rows)
                                          for t in (spatial, features, bias)))
        except (KeyError, RuntimeError, ValueError) as err:
            raise ModelLoadError(f"{path}: the weights do not fit the CNN8 multihead network "
                                 f"({err!s:.600}); fix: download the file again.") from err
        return MosaicNetwork(core, readouts, positions >= 0, recipe.device, recipe.precision)

    def metadata_dataset(self) -> xr.Dataset:
        """Noise ceilings at the selected vertices (per subject) and subject information."""
        metas = [_read(self.recipe.berg_dir, s) for s in self.subjects]
        vertex = self.labels["vertex"].values
        scalar = "subject" not in self.labels.dims
        dims = ("vertex",) if scalar else ("subject", "vertex")
        data: dict[str, Any] = {}
        for name in layout.NOISE_CEILINGS:
            values = np.stack([m.noise_ceiling[name][vertex] for m in metas])
            data[name] = (dims, values[0] if scalar else values)
        for key in ("participant_id", "age", "sex"):
            values = [m.subject_info.get(key, "") for m in metas]
            data[key] = ((), values[0]) if scalar else (("subject",), values)
        return xr.Dataset(data, coords=self.labels, attrs={**self.attrs,
                                                          "model_id": self.model_id})
