"""MOSAIC's CNN8 core and factorised per-subject readouts, as one batched network.

Core (``C8NonSteerableCNN(n_feats=48)``: 384 channels; module and parameter
names match MOSAIC's state dict): eight blocks Conv(bias=False) -> BN -> ReLU;
block 1 is 3->C 5x5 pad 1, block 2 C->C 5x5 pad 2, blocks 3-8 3x3 pad 1;
AvgPool 2/2 after blocks 2, 4 and 6 and AvgPool k2 s1 after block 8. At 224 px
the core gives C x 26 x 26.

Readout of output ``o`` (``SpatialXFeatureLinear``, normalised, with bias):
``y[n, o] = bias[o] + sum_c features[o, c] sum_hw s_hat[o, hw] x[n, c, hw]`` with
``s_hat = spatial / (sqrt(sum_hw spatial**2) + 1e-6)``. Here the readouts of all
requested subjects (and only the requested outputs) are stacked, and computed
as one matrix product ``(N*C, HW) @ (HW, outputs)`` per chunk of outputs.

The channel width is read from the state dict, so a narrower core of the same
geometry (the miniature test directory) loads through the same code.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from xneuro.berg._runtime import (
    Runner,
    chunks,
    features_by_position,
    resize_square,
    weighted_channel_sum,
)

__all__ = ["INPUT_SIZE", "CNN8Core", "MosaicNetwork", "core_output_size", "normalized_spatial"]

#: Images are resized to this many pixels before the core.
INPUT_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def core_output_size(size: int = INPUT_SIZE) -> int:
    """Side length of the core's output for an input of ``size`` pixels (26 at 224)."""
    side = size - 2  # block 1: 5x5, pad 1
    for _ in range(3):  # blocks 2-7 keep the size; three AvgPool 2/2
        side //= 2
    return side - 1  # AvgPool k2 s1


def _block(c_in: int, c_out: int, kernel: int, padding: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=kernel, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class CNN8Core(nn.Module):
    """MOSAIC's CNN8 core with ``channels`` channels (384 in the released model)."""

    def __init__(self, channels: int = 384) -> None:
        super().__init__()
        c = int(channels)
        self.channels = c
        self.block1 = _block(3, c, 5, 1)
        self.block2 = _block(c, c, 5, 2)
        for k in range(3, 9):
            self.add_module(f"block{k}", _block(c, c, 3, 1))
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.last_pool = nn.AvgPool2d(kernel_size=2, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 9):
            x = getattr(self, f"block{k}")(x)
            if k in (2, 4, 6):
                x = self.pool(x)
        return self.last_pool(x)


def normalized_spatial(spatial: torch.Tensor) -> torch.Tensor:
    """L2-normalise each output's spatial map as MOSAIC does (epsilon after the root)."""
    flat = spatial.float().reshape(spatial.shape[0], -1)
    return flat / (torch.linalg.vector_norm(flat, dim=1, keepdim=True) + 1e-6)


class MosaicNetwork(Runner):
    """The core plus the stacked readouts of the requested subjects and outputs.

    Parameters
    ----------
    core : CNN8Core
        The loaded core.
    readouts : sequence of (spatial, features, bias)
        Per subject, the rows of the requested outputs: (m, h, w), (m, C), (m,).
    columns : ndarray of bool, optional
        For each output column, whether the model predicts it (``False``
        columns are NaN, as in BERG's scatter into the 91k space).
    device, precision : str
        See :class:`~xneuro.berg._runtime.Runner`.
    """

    def __init__(
        self,
        core: CNN8Core,
        readouts: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        columns: np.ndarray | None,
        device: str,
        precision: str,
    ) -> None:
        super().__init__(device, precision)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.core = core.to(self.device, memory_format=fmt).eval()
        self.n_subjects = len(readouts)
        self.per_subject = int(readouts[0][2].shape[0])
        m, total = self.per_subject, self.n_subjects * self.per_subject
        side2 = int(readouts[0][0][0].numel())
        self.spatial = torch.empty((total, side2))  # (subjects * outputs, space)
        for k, (spatial, _, _) in enumerate(readouts):
            self.spatial[k * m:(k + 1) * m] = normalized_spatial(spatial)
        self.features = torch.cat([f.float() for _, f, _ in readouts]).contiguous()
        self.bias = torch.cat([b.float() for _, _, b in readouts]).contiguous()
        self.spatial, self.features, self.bias = (
            t.to(self.device) for t in (self.spatial, self.features, self.bias)
        )
        self.columns = None if columns is None or columns.all() else np.asarray(columns, bool)
        self.n_columns = self.per_subject if self.columns is None else len(self.columns)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        self.use_pil = importlib.util.find_spec("PIL") is not None

    @property
    def n_outputs(self) -> int:
        """Output columns per image, all subjects together."""
        return self.n_subjects * self.n_columns

    def bytes_per_image(self) -> int:
        """Working memory of one image: the two largest activations, float32."""
        side = INPUT_SIZE - 2
        return 2 * 4 * self.core.channels * side * side + 4 * 3 * INPUT_SIZE**2

    def _resize(self, images: np.ndarray) -> np.ndarray:
        """Resize to 224 px with PIL's bilinear filter, as MOSAIC's transforms do."""
        if images.shape[-1] == INPUT_SIZE or not self.use_pil:
            return images
        from PIL import Image

        out = np.empty((len(images), 3, INPUT_SIZE, INPUT_SIZE), np.uint8)
        for i, image in enumerate(np.ascontiguousarray(images.transpose(0, 2, 3, 1), np.uint8)):
            pil = Image.fromarray(image, mode="RGB").resize((INPUT_SIZE, INPUT_SIZE),
                                                            Image.Resampling.BILINEAR)
            out[i] = np.asarray(pil).transpose(2, 0, 1)
        return out

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = super().__call__(self._resize(np.asarray(images)))
        out = out.reshape(len(images), self.n_subjects, self.per_subject)
        if self.columns is None:
            return out
        full = np.full((len(images), self.n_subjects, self.n_columns), np.nan, np.float32)
        full[..., self.columns] = out
        return full

    def readout(self, features: torch.Tensor) -> torch.Tensor:
        """Map core features (N, C, h, w) to (N, subjects * outputs)."""
        n, c = features.shape[:2]
        by_position = features_by_position(features)  # (h * w, N * C)
        total = self.bias.shape[0]
        out = torch.empty((n, total), device=self.device, dtype=torch.float32)
        for sl in chunks(total, 3 * 4 * n * c, self.workspace_bytes):
            pooled = (self.spatial[sl] @ by_position).view(-1, n, c)
            out[:, sl] = (weighted_channel_sum(pooled, self.features[sl])
                          + self.bias[sl].unsqueeze(1)).t()
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (resize_square(images, INPUT_SIZE) / 255.0 - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.readout(self.core(x))
