"""Facts about the MOSAIC CNN8 model: file layout and the two metadata schemas (no torch).

Metadata ``sub-SS.npy`` comes in two layouts, both accepted:

- (a) from MOSAIC's prepare script: ``fmri`` (subject info, stimuli and ``roi``)
  and ``encoding_models`` (noise ceilings, ``vertex_mapping_all``);
- (b) from the newest model card: top-level ``vertex_mapping_all``,
  ``glasser_group_id``, ``roi``, ``subject_info``, ``stimuli``, ``noise_ceiling``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xneuro.berg.errors import ModelLoadError
from xneuro.berg.glasser import AREA_GROUP, N_GRAYORDINATES

__all__ = [
    "MODEL_ID",
    "NOISE_CEILINGS",
    "SUBJECTS",
    "MosaicMetadata",
    "metadata_path",
    "parse_metadata",
    "readout_name",
    "weights_path",
]

MODEL_ID = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"
SUBJECTS = (1, 2, 3, 4, 5, 6, 7, 8)
NOISE_CEILINGS = tuple(
    f"{kind}_{avg}_noiseceiling"
    for kind in ("test", "train", "artificial")
    for avg in ("n-avg", "n-1")
)
WEIGHTS_FILE = "model-CNN8_framework-multihead_subjects-NSD_vertices-all.pth"


def model_dir(berg_dir: str | Path) -> Path:
    """``<berg_dir>/encoding_models/modality-fmri/train_dataset-mosaic/model-CNN8_...``."""
    return Path(berg_dir, "encoding_models", "modality-fmri", "train_dataset-mosaic",
                "model-CNN8_multihead_subNSD_verticesAll")


def weights_path(berg_dir: str | Path) -> Path:
    """The state-dict file of the core and the eight NSD readouts."""
    return model_dir(berg_dir) / "encoding_models_weights" / WEIGHTS_FILE


def metadata_path(berg_dir: str | Path, subject: int) -> Path:
    """The metadata file of one NSD subject."""
    return model_dir(berg_dir) / "metadata" / "NSD" / f"sub-{subject:02d}.npy"


def readout_name(subject: int) -> str:
    """Key of a subject's readout in ``subject_readouts`` (``"sub-01_NSD"``)."""
    return f"sub-{subject:02d}_NSD"


@dataclasses.dataclass
class MosaicMetadata:
    """One subject's metadata, whichever layout it was stored in."""

    vertex_mapping: np.ndarray
    glasser_group: np.ndarray
    roi: dict[str, np.ndarray]
    noise_ceiling: dict[str, np.ndarray]
    subject_info: dict[str, Any]


def _need(meta: Any, path: Path, *keys: str) -> Any:
    value = meta
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            raise ModelLoadError(
                f"{path}: MOSAIC metadata has no {'/'.join(keys)!r} entry (neither layout "
                "matches); fix: download the metadata file again."
            )
        value = value[key]
    return value


def _groups_from_rois(mapping: np.ndarray, roi: Mapping[str, np.ndarray]) -> np.ndarray:
    group_of_vertex = np.zeros(N_GRAYORDINATES, np.int16)
    for name, indices in roi.items():
        group = AREA_GROUP.get(str(name)[2:])
        if group is not None:
            group_of_vertex[np.asarray(indices, dtype=np.int64)] = group
    return group_of_vertex[mapping]


def parse_metadata(meta: Any, path: Path) -> MosaicMetadata:
    """Read either metadata layout into :class:`MosaicMetadata`."""
    if isinstance(meta, Mapping) and "vertex_mapping_all" in meta:  # layout (b)
        mapping = np.asarray(_need(meta, path, "vertex_mapping_all"), dtype=np.int64)
        roi = dict(_need(meta, path, "roi"))
        groups = np.asarray(_need(meta, path, "glasser_group_id"), dtype=np.int16)
        ceilings = _need(meta, path, "noise_ceiling")
        info = dict(meta.get("subject_info", {}))
    else:  # layout (a)
        mapping = np.asarray(_need(meta, path, "encoding_models", "vertex_mapping_all"),
                             dtype=np.int64)
        roi = dict(_need(meta, path, "fmri", "roi"))
        ceilings = _need(meta, path, "encoding_models")
        groups = _groups_from_rois(mapping, roi)
        fmri = meta["fmri"]
        info = {k: fmri[k] for k in ("participant_id", "age", "sex") if k in fmri}
    if groups.shape != mapping.shape:
        raise ModelLoadError(f"{path}: glasser_group_id has {groups.shape} entries but "
                             f"vertex_mapping_all has {mapping.shape}; fix: download it again.")
    if mapping.ndim != 1 or (mapping < 0).any() or (mapping >= N_GRAYORDINATES).any():
        raise ModelLoadError(f"{path}: vertex_mapping_all is not a vector of grayordinate "
                             f"indices below {N_GRAYORDINATES}; fix: download it again.")
    noise = {name: np.asarray(_need(ceilings, path, name), dtype=np.float32)
             for name in NOISE_CEILINGS}
    return MosaicMetadata(
        vertex_mapping=mapping,
        glasser_group=groups,
        roi={str(k): np.asarray(v, dtype=np.int64) for k, v in roi.items()},
        noise_ceiling=noise,
        subject_info=info,
    )
