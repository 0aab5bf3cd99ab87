"""Torch plumbing shared by the BERG networks: devices, precision, batching, locking.

Imported only by the network modules, so ``import xneuro`` never imports torch.
"""

from __future__ import annotations

import abc
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "Runner",
    "chunks",
    "features_by_position",
    "log_tanh",
    "log_tanh_",
    "resize_square",
    "weighted_channel_sum",
]


def _numpy_view(x: torch.Tensor) -> np.ndarray | None:
    """A float32 numpy view of a contiguous CPU tensor (numpy's vectorised math is faster)."""
    if x.device.type == "cpu" and x.dtype == torch.float32 and x.is_contiguous():
        return x.numpy()
    return None


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _in_parallel(fn: Callable[..., None], arrays: tuple[np.ndarray, ...],
                 axes: tuple[int, ...]) -> None:
    """Apply ``fn`` to matching blocks of ``arrays`` (split along ``axes``) on torch's threads.

    numpy's ufuncs release the GIL, so the blocks run on separate cores, as
    torch's own elementwise kernels would.
    """
    global _POOL
    n = arrays[0].shape[axes[0]]
    threads = min(torch.get_num_threads(), n)
    if threads < 2 or arrays[0].size < 2**18:
        fn(*arrays)
        return
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                                       thread_name_prefix="xneuro-berg")
    bounds = np.linspace(0, n, threads + 1).astype(int)

    def block(k: int) -> None:
        parts = []
        for array, axis in zip(arrays, axes, strict=True):
            index = [slice(None)] * array.ndim
            index[axis] = slice(bounds[k], bounds[k + 1])
            parts.append(array[tuple(index)])
        fn(*parts)

    list(_POOL.map(block, range(threads)))


def _log_tanh_numpy(a: np.ndarray) -> None:
    t = np.tanh(a)
    np.abs(a, out=a)
    np.log1p(a, out=a)
    a *= t


def log_tanh_(x: torch.Tensor) -> torch.Tensor:
    """The fwRF nonlinearity ``log(1 + |x|) * tanh(x)``, in place; returns ``x``."""
    a = _numpy_view(x)
    if a is not None:
        _in_parallel(_log_tanh_numpy, (a,), (0,))
        return x
    t = torch.tanh(x)
    return x.abs_().log1p_().mul_(t)


def log_tanh(x: torch.Tensor) -> torch.Tensor:
    """The fwRF nonlinearity ``log(1 + |x|) * tanh(x)``."""
    return log_tanh_(x.clone(memory_format=torch.contiguous_format))


def _weighted_sum_numpy(a: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    np.einsum("nbc,nc->nb", a, w, out=out)


def weighted_channel_sum(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``y[n, b] = sum_c x[n, b, c] * weight[n, c]`` for x (n, B, C) and weight (n, C)."""
    a, w = _numpy_view(x), _numpy_view(weight)
    if a is not None and w is not None:
        out = np.empty(a.shape[:2], np.float32)
        _in_parallel(_weighted_sum_numpy, (a, w, out), (0, 0, 0))
        return torch.from_numpy(out)
    return torch.einsum("nbc,nc->nb", x, weight.to(x.dtype))


def features_by_position(fmap: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (H * W, B * C), contiguous: the right-hand side of the readout GEMMs."""
    b, c = fmap.shape[:2]
    return fmap.flatten(2).permute(2, 0, 1).reshape(-1, b * c).contiguous()


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize float images to ``size`` x ``size`` as torchvision's tensor ``Resize`` does.

    Bilinear with antialiasing, then rounded to whole grey levels, which is
    what ``torchvision.transforms.Resize`` does to an integer tensor. An image
    already of that size is returned unchanged.
    """
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                        antialias=True)
    return torch.round(out)


def chunks(total: int, per_unit_bytes: int, budget_bytes: int) -> Iterator[slice]:
    """Split ``range(total)`` into slices whose working memory stays under a budget."""
    step = max(1, min(total, budget_bytes // max(per_unit_bytes, 1)))
    for start in range(0, total, step):
        yield slice(start, min(start + step, total))


class Runner(abc.ABC):
    """Runs a torch module on uint8 image batches: one call at a time, no autograd.

    Parameters
    ----------
    device : str
        ``"cpu"`` or ``"cuda:N"``.
    precision : {"float32", "bfloat16"}
        ``"bfloat16"`` runs the forward pass under :func:`torch.autocast`.
    """

    def __init__(self, device: str, precision: str) -> None:
        self.device = torch.device(device)
        self.precision = precision
        # channels-last convolutions: faster with cuDNN and with oneDNN on the CPU alike
        self.channels_last = True
        self.workspace_bytes = 48 * 2**20  # readout temporaries per chunk of outputs
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            self.workspace_bytes = int(min(free // 4, 4 * 2**30))
        self._lock = threading.Lock()

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "bfloat16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @abc.abstractmethod
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map float images (B, 3, H, W), values 0-255, on the device to (B, n) responses."""

    def __call__(self, images: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(images, dtype=np.uint8)
        batch = torch.from_numpy(array if array.flags.writeable else array.copy())
        # The forward pass uses every core (CPU) or the whole device: one batch at a
        # time per process; reading inputs and writing outputs happen outside.
        with self._lock, torch.inference_mode(), self._autocast():
            batch = batch.to(self.device, non_blocking=True).float()
            out = self.forward(batch)
            return out.float().cpu().numpy()
