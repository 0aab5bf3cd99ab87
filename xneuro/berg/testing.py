"""A miniature BERG directory for tests and the demo: BERG's file names, formats and keys.

Real BERG weights cannot be downloaded here, so :func:`make_miniature_berg`
writes a directory with the exact layout, file names, file formats (pickled
``torch.save`` dicts, ``.pth`` state dicts, ``np.save`` dicts) and key names of
BERG's ``fmri-nsd-fwrf`` and ``fmri-mosaic-CNN8_multihead_subNSD_verticesAll``,
filled with random weights. What is smaller than the real thing:

- the backbones are narrower (same geometry; the loaders read widths from the
  state dicts), except for the (subject, ROI) files listed in ``fwrf_full_width``;
- per-voxel and per-vertex readout tensors are strided views of a small random
  storage (``torch.save`` keeps storage and strides), so a file with the real
  41,962 subject-1 voxels or 57,051 vertices takes kilobytes, not gigabytes;
- MOSAIC stimulus lists are short.

Voxel counts (the model card's subject-1 widths by default), volume shape,
split files, the 57,051-vertex mapping with the real Glasser group sizes, the
360-ROI dictionary and the (91,282,) noise ceilings are full size. Everything
is synthetic: responses mean nothing, but loading, selection and labels are
exercised exactly as with the real files.
"""

from __future__ import annotations

import argparse
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xneuro.berg.fwrf import layout as fwrf_layout
from xneuro.berg.glasser import GROUPS, N_GRAYORDINATES
from xneuro.berg.mosaic import layout as mlayout
from xneuro.core.backend import import_optional
from xneuro.core.errors import input_error

__all__ = ["GROUP_SIZES", "VOLUME_SHAPE", "make_miniature_berg", "vertex_layout"]

#: Shape of NSD subject 1's func1pt8mm volume.
VOLUME_SHAPE = (81, 104, 83)
#: Vertices of Glasser groups 1-22 in MOSAIC's whole-cortex model (57,051 in all).
GROUP_SIZES = (1603, 2547, 1116, 1220, 1345, 5391, 3139, 2470, 1579, 1173, 2304, 3224, 1039,
               3660, 1580, 3210, 5060, 2859, 3185, 3011, 1944, 4392)
_CORTEX = {"L": (0, 29696, 1183), "R": (29696, 29716, 1178)}  # offset, vertices, NaN vertices
_EMPTY_ROIS = {"L_H", "R_H", "R_RSC"}
_AFFINE = np.array([[1.8, 0, 0, -72.0], [0, 1.8, 0, -93.6], [0, 0, 1.8, -74.7], [0, 0, 0, 1]])
MINI_FWRF = {"conv1": 8, "conv2": 24, "conv3": 16, "trunk": 16, "tw": 8}


def _strided(torch: Any, rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> Any:
    """A (n, ...) tensor whose rows are overlapping windows of one small random storage."""
    inner = int(np.prod(shape[1:]))
    base = torch.from_numpy((rng.standard_normal(shape[0] + inner) * scale).astype(np.float32))
    strides = [1] + [int(np.prod(shape[k + 1:])) for k in range(1, len(shape))]
    return base.as_strided(shape, strides)


def _conv(torch: Any, rng: np.random.Generator, c_out: int, c_in: int, k: int) -> Any:
    w = rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2.0 / (c_in * k * k))
    return torch.from_numpy(w.astype(np.float32))


def _bn(torch: Any, rng: np.random.Generator, prefix: str, c: int) -> dict[str, Any]:
    f = lambda a: torch.from_numpy(np.asarray(a, np.float32))
    return {
        f"{prefix}.weight": f(rng.uniform(0.8, 1.2, c)),
        f"{prefix}.bias": f(rng.normal(0, 0.05, c)),
        f"{prefix}.running_mean": f(rng.normal(0, 0.05, c)),
        f"{prefix}.running_var": f(rng.uniform(0.8, 1.2, c)),
        f"{prefix}.num_batches_tracked": torch.tensor(1000),
    }


def _fwrf_enc(torch: Any, rng: np.random.Generator, w: Mapping[str, int]) -> OrderedDict:
    state: OrderedDict = OrderedDict()
    bias = lambda c: torch.from_numpy(rng.normal(0, 0.05, c).astype(np.float32))
    state["mu"] = torch.tensor([0.45, 0.43, 0.40]).view(1, 3, 1, 1)
    state["pre.conv1.0.weight"] = _conv(torch, rng, w["conv1"], 3, 11)
    state["pre.conv1.0.bias"] = bias(w["conv1"])
    state["pre.conv2.0.weight"] = _conv(torch, rng, w["conv2"], w["conv1"], 5)
    state["pre.conv2.0.bias"] = bias(w["conv2"])
    state["enc.conv3.weight"] = _conv(torch, rng, w["conv3"], w["conv2"], 3)
    state["enc.conv3.bias"] = bias(w["conv3"])
    state.update(_bn(torch, rng, "enc.bn1", w["conv2"]))
    for name in ("conv4a", "conv5a", "conv6a", "conv4b", "conv5b", "conv6b"):
        c_in = w["conv3"] if name == "conv4a" else w["trunk"]
        c_out = w["tw"] if name == "conv6b" else w["trunk"]
        state[f"enc.{name}.conv1.weight"] = _conv(torch, rng, c_out, c_in, 3)
        state[f"enc.{name}.conv1.bias"] = bias(c_out)
        state.update(_bn(torch, rng, f"enc.{name}.bn1", c_in))
    return state


def _fwrf_checkpoint(torch: Any, rng: np.random.Generator, subject: int, roi: str, split: int,
                     nv: int, widths: Mapping[str, int]) -> dict[str, Any]:
    n_features = widths["conv1"] + widths["conv2"] + widths["conv3"] + 6 * widths["tw"]
    fwrf = OrderedDict(
        **{f"rf{k}": _strided(torch, rng, (nv, s, s), 2.0)
           for k, s in enumerate((27, 25, 13))},
        w=_strided(torch, rng, (nv, n_features), 0.05),
        b=torch.from_numpy(rng.normal(0, 0.1, nv).astype(np.float32)),
    )
    params = {"enc": _fwrf_enc(torch, rng, widths), "fwrfs": {subject: fwrf}}
    args = argparse.Namespace(subjects="single", used_nsd_sub=subject, roi=roi,
                              split_roi=int(split > 0), split=split or 1, lr=1e-3,
                              batch_size=128, epochs=75, use_prefilter=1, random_prefilter=1,
                              train_prefilter=1, trained=1, seed=subject * 100)
    hist = lambda: rng.uniform(0, 1, 75).astype(np.float32)
    return {
        "args.": args, "best_params": params, "final_params": params,
        "trn_hist": hist(), "hold_hist": hist(), "hold_cc_hist": hist(),
        "best_epoch": int(rng.integers(20, 75)), "best_joint_cc_score": np.float64(0.4),
        "subject_val_cc": {subject: rng.uniform(0, 0.8, nv).astype(np.float32)},
        "stim_mean": np.array([0.45, 0.43, 0.40], np.float32).reshape(1, 3, 1, 1),
        "betas_info": {subject: {"masterordering": np.arange(30),
                                 "test_img_idx": np.arange(5)}},
    }


def _blob(rng: np.random.Generator, n: int) -> np.ndarray:
    """A compact mask of exactly ``n`` voxels around a random posterior centre."""
    centre = rng.uniform([15, 10, 20], [66, 45, 60])
    grid = np.indices(VOLUME_SHAPE, dtype=np.float32).reshape(3, -1).T
    distance = ((grid - centre) ** 2).sum(1) + rng.uniform(0, 0.5, len(grid))
    mask = np.zeros(int(np.prod(VOLUME_SHAPE)), bool)
    mask[np.argpartition(distance, n - 1)[:n]] = True
    return mask.reshape(VOLUME_SHAPE)


def _fwrf_metadata(rng: np.random.Generator, n: int) -> dict[str, Any]:
    r2 = rng.uniform(0, 0.5, n).astype(np.float32)
    ceiling = rng.uniform(0.2, 0.9, n).astype(np.float32)
    return {
        "fmri": {"ncsnr": rng.uniform(0, 1.5, n).astype(np.float32),
                 "roi_mask_volume": _blob(rng, n), "fmri_affine": _AFFINE.copy()},
        "encoding_models": {
            "r2": r2, "noise_ceiling": ceiling * 100,
            "explained_variance": np.clip(r2 / ceiling * 100, 0, 100).astype(np.float32),
            "train_img_num": np.arange(9000, dtype=np.int32),
            "val_img_num": np.arange(9000, 9485, dtype=np.int32),
            "test_img_num": np.arange(9485, 10000, dtype=np.int32),
        },
    }


def _write_fwrf(torch: Any, root: Path, rng: np.random.Generator, subject: int, roi: str,
                nv: int, full: bool) -> None:
    widths = {"conv1": 64, "conv2": 192, "conv3": 128, "trunk": 128, "tw": 64} if full \
        else MINI_FWRF
    meta_path = fwrf_layout.metadata_path(root, subject, roi)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(meta_path, _fwrf_metadata(rng, nv), allow_pickle=True)
    paths = fwrf_layout.weights_paths(root, subject, roi)
    sizes = fwrf_layout.split_sizes(nv) if len(paths) == 2 else (nv,)
    for k, (path, size) in enumerate(zip(paths, sizes, strict=True)):
        path.parent.mkdir(parents=True, exist_ok=True)
        split = k + 1 if len(paths) == 2 else 0
        torch.save(_fwrf_checkpoint(torch, rng, subject, roi, split, size, widths), path)


def vertex_layout(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A synthetic whole-cortex layout with MOSAIC's sizes.

    Returns
    -------
    mapping : ndarray of int32, (57051,)
        Sorted grayordinate indices of the predicted vertices (cortex minus
        1,183 left and 1,178 right NaN vertices).
    groups : ndarray of int8, (57051,)
        Glasser group of each, with the real group sizes (groups 1-5: 7,831).
    roi : dict
        ``"L_V1"``... -> grayordinate indices (NaN vertices removed; ``L_H``,
        ``R_H`` and ``R_RSC`` empty, as in the real data; ``L_V1`` has 816).
    """
    rng = np.random.default_rng(seed + 7)
    kept_total = {h: n - nan for h, (_, n, nan) in _CORTEX.items()}
    left = [round(n * kept_total["L"] / sum(GROUP_SIZES)) for n in GROUP_SIZES]
    left[0] = 816
    left[5] += kept_total["L"] - sum(left)
    share = {"L": left, "R": [n - k for n, k in zip(GROUP_SIZES, left, strict=True)]}
    mapping, groups, roi = [], [], {}
    for hemi, (offset, n, n_nan) in _CORTEX.items():
        nan = set(rng.choice(np.arange(1, n), n_nan, replace=False).tolist())
        if hemi == "L":
            nan = set(list(nan)[1:]) | {0}
        kept = np.array([offset + i for i in range(n) if i not in nan], dtype=np.int32)
        start = 0
        for g, size in zip(GROUPS, share[hemi], strict=True):
            areas = [a for a in GROUPS[g] if f"{hemi}_{a}" not in _EMPTY_ROIS]
            cuts = np.sort(rng.choice(np.arange(1, size), len(areas) - 1, replace=False))
            bounds = [0, *cuts.tolist(), size]
            for a, area in enumerate(areas):
                roi[f"{hemi}_{area}"] = kept[start + bounds[a]:start + bounds[a + 1]].astype(
                    np.int64)
            mapping.append(kept[start:start + size])
            groups.append(np.full(size, g, np.int8))
            start += size
    for name in _EMPTY_ROIS:
        roi[name] = np.empty(0, np.int64)
    return np.concatenate(mapping), np.concatenate(groups), roi


def _mosaic_metadata(rng: np.random.Generator, subject: int, schema: str,
                     vertex: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]) -> dict:
    mapping, groups, roi = vertex
    ceilings = {}
    for name in mlayout.NOISE_CEILINGS:
        values = np.full(N_GRAYORDINATES, np.nan, np.float32)
        values[mapping] = rng.uniform(0, 80, len(mapping))
        ceilings[name] = values
    names = np.array([f"nsd_{k:05d}.png" for k in range(10)], dtype=object)
    stimuli = {"filenames": names, "alias": names.copy(), "source": np.full(10, "nsd"),
               "train_idx": np.arange(8), "test_idx": np.arange(8, 10),
               "train_filenames": names[:8], "test_filenames": names[8:],
               "reps": np.full(10, 3)}
    info = {"participant_id": f"sub-{subject:02d}", "age": int(20 + subject), "sex": "F"}
    if schema == "b":
        return {"vertex_mapping_all": mapping, "glasser_group_id": groups, "roi": roi,
                "subject_info": info, "stimuli": stimuli, "noise_ceiling": ceilings}
    return {"fmri": {**info, **stimuli, "roi": roi},
            "encoding_models": {**ceilings, "vertex_mapping_visual": mapping[groups <= 5],
                                "vertex_mapping_all": mapping}}


def _mosaic_state(torch: Any, rng: np.random.Generator, channels: int, n_out: int,
                  prefix: bool) -> OrderedDict:
    state: OrderedDict = OrderedDict()
    for k in range(1, 9):
        c_in, kernel = (3, 5) if k == 1 else (channels, 5 if k == 2 else 3)
        state[f"core.block{k}.0.weight"] = _conv(torch, rng, channels, c_in, kernel)
        state.update(_bn(torch, rng, f"core.block{k}.1", channels))
    for s in mlayout.SUBJECTS:
        name = f"subject_readouts.{mlayout.readout_name(s)}"
        state[f"{name}._features"] = _strided(torch, rng, (n_out, channels), 0.3)
        state[f"{name}.spatial"] = _strided(torch, rng, (n_out, 26, 26), 1.0)
        state[f"{name}.bias"] = torch.from_numpy(rng.normal(0, 0.1, n_out).astype(np.float32))
    if prefix:
        state = OrderedDict((f"module.{k}", v) for k, v in state.items())
    return state


def make_miniature_berg(
    root: str | os.PathLike[str],
    *,
    fwrf_rois: Mapping[int, Sequence[str]] | None = None,
    fwrf_voxels: str | int = "card",
    fwrf_full_width: Sequence[tuple[int, str]] = (),
    mosaic_subjects: Sequence[int] = (1, 2),
    mosaic_channels: int = 8,
    mosaic_layout: str = "b",
    mosaic_prefix: bool = True,
    seed: int = 0,
) -> Path:
    """Write a miniature BERG directory with random weights.

    Parameters
    ----------
    root : path
        The directory to create (the ``berg_dir``); must not exist or be empty.
    fwrf_rois : mapping, optional
        fwRF ROIs to write per subject; default ``{1: all 23 ROIs}``; ``{}`` for none.
    fwrf_voxels : "card" or int
        Voxels per ROI: the model card's subject-1 widths, or this many.
    fwrf_full_width : sequence of (subject, roi)
        fwRF files written with BERG's real backbone widths (64/192/128/128/64).
    mosaic_subjects : sequence of int
        Subjects whose MOSAIC metadata is written (the weights file always holds
        the eight NSD readouts); ``()`` writes no MOSAIC files.
    mosaic_channels : int
        Core width (384 in the real model).
    mosaic_layout : {"a", "b"}
        Metadata layout (see :mod:`xneuro.berg.mosaic.layout`).
    mosaic_prefix : bool
        Prefix state-dict keys with ``"module."`` (as saved from ``nn.DataParallel``).
    seed : int
        Seed of the random weights.

    Returns
    -------
    pathlib.Path
        ``root``.
    """
    torch = import_optional("torch", purpose="writing BERG checkpoints")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise input_error("root", f"{os.fspath(root)!r} exists and is not empty",
                          expected="a new directory", fix="choose another path")
    if mosaic_layout not in ("a", "b"):
        raise input_error("mosaic_layout", f"is {mosaic_layout!r}", expected="'a' or 'b'")
    rng = np.random.default_rng(seed)
    rois = {1: fwrf_layout.ROIS} if fwrf_rois is None else fwrf_rois
    full = {(int(s), r) for s, r in fwrf_full_width}
    for subject, names in rois.items():
        for roi in names:
            nv = fwrf_layout.SUBJECT1_WIDTHS[roi] if fwrf_voxels == "card" else int(fwrf_voxels)
            _write_fwrf(torch, root, rng, int(subject), roi, nv, (int(subject), roi) in full)
    for subject, roi in full - {(int(s), r) for s, names in rois.items() for r in names}:
        nv = fwrf_layout.SUBJECT1_WIDTHS[roi] if fwrf_voxels == "card" else int(fwrf_voxels)
        _write_fwrf(torch, root, rng, subject, roi, nv, True)
    if mosaic_subjects:
        vertex = vertex_layout(seed)
        weights = mlayout.weights_path(root)
        weights.parent.mkdir(parents=True, exist_ok=True)
        torch.save(_mosaic_state(torch, rng, mosaic_channels, len(vertex[0]), mosaic_prefix),
                   weights)
        for subject in mosaic_subjects:
            path = mlayout.metadata_path(root, subject)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, _mosaic_metadata(rng, subject, mosaic_layout, vertex),
                    allow_pickle=True)
    (root / "MINIATURE.txt").write_text(
        "A miniature BERG directory written by xneuro.berg.testing.make_miniature_berg:\n"
        "BERG's layout, file formats and keys, random weights. Not real models.\n"
    )
    return root
