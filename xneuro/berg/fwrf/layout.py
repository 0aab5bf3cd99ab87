"""Facts about ``fmri-nsd-fwrf``: ROIs, subjects, file layout, subject-1 widths (no torch)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "MODEL_ID",
    "ROIS",
    "SPLIT_ROIS",
    "SUBJECT1_WIDTHS",
    "SUBJECTS",
    "metadata_path",
    "model_dir",
    "split_sizes",
    "weights_paths",
]

MODEL_ID = "fmri-nsd-fwrf"
SUBJECTS = (1, 2, 3, 4, 5, 6, 7, 8)
#: The 23 ROIs, in the model card's order.
ROIS = (
    "V1", "V2", "V3", "hV4", "EBA", "FBA-2", "OFA", "FFA-1", "FFA-2", "PPA", "RSC", "OPA",
    "OWFA", "VWFA-1", "VWFA-2", "mfs-words", "early", "midventral", "midlateral",
    "midparietal", "parietal", "lateral", "ventral",
)
#: ROIs too large for one model: two weight files, split-1 holds the first ceil(n/2) voxels.
SPLIT_ROIS = ("lateral", "ventral")
#: Voxels per ROI of subject 1 (model card).
SUBJECT1_WIDTHS = {
    "V1": 1350, "V2": 1433, "V3": 1187, "hV4": 687, "EBA": 2971, "FBA-2": 430, "OFA": 355,
    "FFA-1": 484, "FFA-2": 310, "PPA": 1033, "RSC": 566, "OPA": 1611, "OWFA": 464,
    "VWFA-1": 773, "VWFA-2": 505, "mfs-words": 165, "early": 5917, "midventral": 986,
    "midlateral": 834, "midparietal": 950, "parietal": 3548, "lateral": 7799, "ventral": 7604,
}


def model_dir(berg_dir: str | Path) -> Path:
    """``<berg_dir>/encoding_models/modality-fmri/train_dataset-nsd/model-fwrf``."""
    return Path(berg_dir, "encoding_models", "modality-fmri", "train_dataset-nsd", "model-fwrf")


def weights_paths(berg_dir: str | Path, subject: int, roi: str) -> list[Path]:
    """The weight file(s) of one subject and ROI (two for the split ROIs)."""
    folder = model_dir(berg_dir) / "encoding_models_weights"
    stem = f"weights_sub-{subject:02d}_roi-{roi}"
    if roi in SPLIT_ROIS:
        return [folder / f"{stem}_split-{k}.pt" for k in (1, 2)]
    return [folder / f"{stem}.pt"]


def metadata_path(berg_dir: str | Path, subject: int, roi: str) -> Path:
    """The metadata file of one subject and ROI."""
    return model_dir(berg_dir) / "metadata" / f"metadata_sub-{subject:02d}_roi-{roi}.npy"


def split_sizes(n: int) -> tuple[int, int]:
    """Voxels in split-1 and split-2 of an ROI of ``n`` voxels."""
    first = (n + 1) // 2
    return first, n - first
