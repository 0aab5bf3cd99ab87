"""The NSD fwRF network as BERG runs it (St-Yves' GNet with layer-wise pooling fields).

Backbone (``Encoder(mu, trunk_width=64, use_prefilter=1)`` in BERG; module and
parameter names match its state dict so checkpoints load strictly):

- ``pre.conv1``: Conv 3->64, 11x11, stride 4, pad 2; ReLU; MaxPool 3/2 -> 64 x 27 x 27
- ``pre.conv2``: Conv 64->192, 5x5, pad 2; ReLU -> 192 x 27 x 27
- ``enc.bn1`` -> ``enc.conv3``: BN(192), Conv 192->128, 3x3, no pad; ReLU -> 128 x 25 x 25
- ``enc.conv4a``, ``enc.conv4b``: trunk blocks (BN(in) -> Conv 3x3 pad 1 -> ReLU), 25 x 25
- ``enc.pool1``: MaxPool 3/2 pad 1 -> 13 x 13; ``enc.conv5a``, ``conv5b``, ``conv6a``,
  ``conv6b`` (128->64) trunk blocks

Three feature maps of 256 channels: ``cat(c1, y)`` at 27 px, ``cat(c3, c4a[:64],
c4b[:64])`` at 25 px and ``cat(c5a[:64], c5b[:64], c6a[:64], c6b)`` at 13 px.
Readout per voxel ``v``: ``y = b + sum_c w[v, c] phi(sum_s softmax(rf[v])_s phi(F[c, s]))``
with ``phi(x) = log(1 + |x|) tanh(x)``, computed here for many voxels at once as
one matrix product per feature map, chunked over voxels.

Channel widths are read from the state dict, so a narrower network of the same
geometry (the miniature test directory) loads through the same code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from xneuro.berg._runtime import (
    Runner,
    chunks,
    features_by_position,
    log_tanh_,
    resize_square,
    weighted_channel_sum,
)

__all__ = [
    "INPUT_SIZE",
    "Backbone",
    "BackboneWidths",
    "FwrfNetwork",
    "Readout",
    "feature_map_sizes",
]

#: Images are resized to this many pixels before the backbone.
INPUT_SIZE = 227


def feature_map_sizes(size: int = INPUT_SIZE) -> tuple[int, int, int]:
    """Side lengths of the three feature maps for an input of ``size`` pixels (27, 25, 13)."""
    conv1 = (size + 2 * 2 - 11) // 4 + 1
    pooled = (conv1 - 3) // 2 + 1
    conv3 = pooled - 2
    return pooled, conv3, (conv3 + 2 - 3) // 2 + 1


@dataclasses.dataclass(frozen=True)
class BackboneWidths:
    """Channel widths of the backbone: BERG's are 64, 192, 128, 128, 64."""

    conv1: int = 64
    conv2: int = 192
    conv3: int = 128
    trunk: int = 128
    tw: int = 64

    @property
    def feature_channels(self) -> tuple[int, int, int]:
        """Channels of the three feature maps (256 each for BERG's widths)."""
        return (self.conv1 + self.conv2, self.conv3 + 2 * self.tw, 4 * self.tw)

    @classmethod
    def from_state(cls, state: Mapping[str, torch.Tensor]) -> BackboneWidths:
        """Read the widths from an ``enc`` state dict."""
        return cls(
            conv1=int(state["pre.conv1.0.weight"].shape[0]),
            conv2=int(state["pre.conv2.0.weight"].shape[0]),
            conv3=int(state["enc.conv3.weight"].shape[0]),
            trunk=int(state["enc.conv4a.conv1.weight"].shape[0]),
            tw=int(state["enc.conv6b.conv1.weight"].shape[0]),
        )


class TrunkBlock(nn.Module):
    """BatchNorm of the input, 3x3 convolution (pad 1), ReLU (dropout is off in eval)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in, eps=1e-5, momentum=0.25)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv1(self.bn1(x)))


class Prefilter(nn.Module):
    """AlexNet's conv1/conv2 geometry (randomly initialised and trained in BERG)."""

    def __init__(self, widths: BackboneWidths) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, widths.conv1, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(widths.conv1, widths.conv2, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
        )


class Trunk(nn.Module):
    """The encoder stage after the prefilter (``enc`` in the state dict)."""

    def __init__(self, widths: BackboneWidths) -> None:
        super().__init__()
        w = widths
        self.bn1 = nn.BatchNorm2d(w.conv2, eps=1e-5, momentum=0.25)
        self.conv3 = nn.Conv2d(w.conv2, w.conv3, kernel_size=3)
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv4a = TrunkBlock(w.conv3, w.trunk)
        self.conv4b = TrunkBlock(w.trunk, w.trunk)
        self.conv5a = TrunkBlock(w.trunk, w.trunk)
        self.conv5b = TrunkBlock(w.trunk, w.trunk)
        self.conv6a = TrunkBlock(w.trunk, w.trunk)
        self.conv6b = TrunkBlock(w.trunk, w.tw)
        self.tw = w.tw


class Backbone(nn.Module):
    """The fwRF backbone; ``forward`` maps images in [0, 1] to the three feature maps."""

    def __init__(self, widths: BackboneWidths | None = None) -> None:
        super().__init__()
        self.widths = widths or BackboneWidths()
        self.mu = nn.Parameter(torch.zeros(1, 3, 1, 1), requires_grad=False)
        self.pre = Prefilter(self.widths)
        self.enc = Trunk(self.widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.pre.conv1(x - self.mu)
        y = self.pre.conv2(c1)
        e, tw = self.enc, self.enc.tw
        c3 = F.relu(e.conv3(e.bn1(y)))
        c4a = e.conv4a(c3)
        c4b = e.conv4b(c4a)
        c5a = e.conv5a(e.pool1(c4b))
        c5b = e.conv5b(c5a)
        c6a = e.conv6a(c5b)
        c6b = e.conv6b(c6a)
        return [
            torch.cat([c1, y], dim=1),
            torch.cat([c3, c4a[:, :tw], c4b[:, :tw]], dim=1),
            torch.cat([c5a[:, :tw], c5b[:, :tw], c6a[:, :tw], c6b], dim=1),
        ]


class Readout(nn.Module):
    """Layer-wise fwRF readout of ``nv`` voxels, with the pooling fields pre-normalised.

    Parameters
    ----------
    state : mapping
        BERG's per-subject fwRF state dict: ``rf0``, ``rf1``, ``rf2`` (nv, s, s),
        ``w`` (nv, features), ``b`` (nv,).
    channels : sequence of int
        Channels of the three feature maps.
    """

    def __init__(self, state: Mapping[str, torch.Tensor], channels: Sequence[int]) -> None:
        super().__init__()
        bias = state["b"].detach().float()
        self.nv = int(bias.shape[0])
        self.channels = tuple(int(c) for c in channels)
        w = state["w"].detach().float()
        offsets = [0, *torch.cumsum(torch.tensor(self.channels), 0).tolist()]
        for k in range(len(self.channels)):
            rf = state[f"rf{k}"].detach().float().reshape(self.nv, -1)
            # (voxel, space) softmax pooling fields: one matmul pools every voxel
            self.register_buffer(f"field{k}", torch.softmax(rf, dim=1).contiguous())
            self.register_buffer(f"weight{k}", w[:, offsets[k]:offsets[k + 1]].contiguous())
        self.register_buffer("bias", bias.contiguous())

    def forward(self, fmaps: Sequence[torch.Tensor], workspace_bytes: int) -> torch.Tensor:
        n = fmaps[0].shape[0]
        # phi of every feature at every position, as (space, image * channel)
        feats = [log_tanh_(features_by_position(fm)) for fm in fmaps]
        out = torch.empty((n, self.nv), device=self.bias.device, dtype=torch.float32)
        per_voxel = 3 * 4 * n * max(self.channels)
        for sl in chunks(self.nv, per_voxel, workspace_bytes):
            acc = self.bias[sl].unsqueeze(1).expand(-1, n).clone()  # (voxel, image)
            for k, feat in enumerate(feats):
                pooled = log_tanh_(getattr(self, f"field{k}")[sl] @ feat)
                pooled = pooled.view(-1, n, self.channels[k])
                acc += weighted_channel_sum(pooled, getattr(self, f"weight{k}")[sl])
            out[:, sl] = acc.t()
        return out


class FwrfNetwork(Runner):
    """One or more (backbone, readout) parts, each a BERG weight file; outputs concatenated.

    Parameters
    ----------
    parts : sequence of (Backbone, Readout)
        In output order (an ROI's split-1 then split-2, ROIs in the order asked for).
    device, precision : str
        See :class:`~xneuro.berg._runtime.Runner`.
    """

    def __init__(self, parts: Sequence[tuple[Backbone, Readout]], device: str,
                 precision: str) -> None:
        super().__init__(device, precision)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.parts = [
            (backbone.to(self.device, memory_format=fmt).eval(), readout.to(self.device).eval())
            for backbone, readout in parts
        ]
        self.n_outputs = sum(readout.nv for _, readout in self.parts)

    def bytes_per_image(self) -> int:
        """Working memory of one image: input, activations and feature maps, float32."""
        w = self.parts[0][0].widths
        sides = feature_map_sizes()
        maps = sum(c * s * s for c, s in zip(w.feature_channels, sides, strict=True))
        return 4 * (3 * INPUT_SIZE**2 + w.conv1 * 56**2 + 3 * maps)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = resize_square(images, INPUT_SIZE) / 255.0
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.cat(
            [readout(backbone(x), self.workspace_bytes) for backbone, readout in self.parts],
            dim=1,
        )
