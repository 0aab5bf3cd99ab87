"""PyTorch side of the extraction: layers by module path, forward hooks, preprocessing.

A :class:`TorchRunner` runs one batch through the network under
``torch.inference_mode`` (entered in the calling thread, as it is
thread-local) and returns the outputs of the requested modules, captured by
forward hooks in one pass; the pass stops as soon as the last requested
module has run. Hooks write to a thread-local sink, so dask threads sharing
one network never see each other's outputs. On a distributed cluster the
network is written once beside the store and loaded once per worker process
(:func:`xneuro.core.parallel.worker_cache`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import threading
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from xneuro.core.backend import import_optional
from xneuro.core.errors import input_error
from xneuro.core.parallel import worker_cache

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "TorchRunner", "is_torch_module", "torch_layers"]

log = logging.getLogger("xneuro.dnn.extract")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_SINK = threading.local()


class _Stop(Exception):
    """Raised by the last hook of a pass: the rest of the network is not needed."""


def _torch() -> Any:
    return import_optional("torch", purpose="extracting activations of PyTorch networks")


def is_torch_module(net: Any) -> bool:
    """Whether ``net`` is a ``torch.nn.Module`` (checked without importing torch)."""
    return any(
        f"{cls.__module__}.{cls.__qualname__}" == "torch.nn.modules.module.Module"
        for cls in type(net).__mro__
    )


def torch_layers(net: Any) -> list[str]:
    """Module paths of every submodule, as ``net.named_modules()`` gives them."""
    return [name for name, _ in net.named_modules() if name]


def _make_hook(key: str, name: str, dtype: str) -> Callable[..., None]:
    def hook(module: Any, inputs: Any, output: Any) -> None:
        target = getattr(_SINK, "target", None)
        if target is None or target[0] != key:
            return
        _, captured, wanted = target
        if name in captured:
            return
        tensor = output[0] if isinstance(output, tuple | list) and output else output
        if not hasattr(tensor, "detach"):
            raise input_error(
                "layers", f"module {name!r} returned a {type(output).__name__}",
                expected="modules whose output is a tensor",
                fix="choose a submodule that returns a tensor",
            )
        captured[name] = np.array(tensor.detach().float().cpu().numpy(), dtype=dtype, copy=True)
        if len(captured) == len(wanted):
            raise _Stop

    return hook


def _load_net(path: str, device: str, layers: list[str], key: str, dtype: str) -> Any:
    with open(path, "rb") as file:
        net = pickle.load(file)
    net.to(device)
    net.eval()
    modules = dict(net.named_modules())
    for name in layers:
        modules[name].register_forward_hook(_make_hook(key, name, dtype))
    return net


class TorchRunner:
    """Runs batches through a ``torch.nn.Module`` and captures layer outputs.

    Parameters
    ----------
    net : torch.nn.Module
        The network.
    layers : list of str
        Module paths to capture.
    device : str
        A resolved device (``"cpu"``, ``"cuda:0"``).
    preprocess : "imagenet", None or callable
        ``"imagenet"``: scale to [0, 1] and normalise with ImageNet's mean
        and std (gray images repeated to 3 channels); ``None``: scale to
        [0, 1] only; a callable receives the float tensor ``(n, channel,
        row, column)`` in [0, 1] and returns the network's input.
    size : (int, int), optional
        Resize images (bilinear, antialiased) before ``preprocess``.
    dtype : str
        Dtype of the captured outputs.
    """

    kind = "torch"

    def __init__(
        self, net: Any, layers: list[str], *, device: str, preprocess: Any,
        size: tuple[int, int] | None, dtype: str,
    ) -> None:
        self.net = net
        self.layers = list(layers)
        self.device = device
        self.preprocess = preprocess
        self.size = size
        self.dtype = dtype
        self._key = uuid.uuid4().hex
        self._net_path: str | None = None
        self._handles: list[Any] = []
        self._was_training = bool(getattr(net, "training", False))

    def layer_names(self) -> list[str]:
        """Every module path of the network."""
        return torch_layers(self.net)

    def describe_preprocess(self) -> str:
        """A name of the preprocessing, for the job fingerprint."""
        if callable(self.preprocess):
            return getattr(self.preprocess, "__qualname__", type(self.preprocess).__name__)
        return str(self.preprocess)

    def fingerprint(self) -> str:
        """A digest of the architecture and the weights."""
        torch = _torch()
        digest = hashlib.blake2b(digest_size=12)
        digest.update(f"{type(self.net).__module__}.{type(self.net).__qualname__}".encode())
        digest.update(repr(self.net).encode())
        for name, value in self.net.state_dict().items():
            digest.update(name.encode())
            raw = value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
            digest.update(raw.tobytes())
        return digest.hexdigest()

    # -- life cycle ------------------------------------------------------------------

    def open(self) -> None:
        """Move the network to the device, set eval mode and register the hooks."""
        self.net.to(self.device)
        self.net.eval()
        self._register()

    def _register(self) -> None:
        modules = dict(self.net.named_modules())
        self._handles = [
            modules[name].register_forward_hook(_make_hook(self._key, name, self.dtype))
            for name in self.layers
        ]

    def close(self) -> None:
        """Remove the hooks and restore the network's training mode."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self.net is not None:
            self.net.train(self._was_training)

    def for_workers(self, path: str) -> None:
        """Write the network to ``path`` (cloudpickle) so that workers load it once each."""
        import cloudpickle

        for handle in self._handles:  # our hooks stay out of the pickled network
            handle.remove()
        try:
            with open(path, "wb") as file:
                cloudpickle.dump(self.net, file)
        finally:
            self._register()
        self._net_path = path

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._net_path is not None:
            state.update(net=None, _handles=[])
        return state

    def _model(self) -> Any:
        if self.net is not None:
            return self.net
        return worker_cache(
            ("xneuro.dnn.torch", self._net_path, self._key),
            _load_net, self._net_path, self.device, self.layers, self._key, self.dtype,
        )

    # -- batches ---------------------------------------------------------------------

    def _prepare(self, batch: np.ndarray) -> Any:
        torch = _torch()
        batch = np.ascontiguousarray(batch)
        x = torch.from_numpy(batch if batch.flags.writeable else batch.copy())
        x = x.float() / 255.0 if batch.dtype.kind in "iu" else x.float()
        if self.size is not None and tuple(x.shape[-2:]) != tuple(self.size):
            x = torch.nn.functional.interpolate(
                x, size=tuple(self.size), mode="bilinear", align_corners=False, antialias=True
            )
        if self.preprocess == "imagenet":
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            if x.shape[1] != 3:
                raise input_error(
                    "images", f"have {x.shape[1]} channels",
                    expected="1 or 3 channels for preprocess='imagenet'",
                    fix="pass preprocess=None or a callable",
                )
            mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
            x = (x - mean) / std
        elif callable(self.preprocess):
            x = self.preprocess(x)
        return x.to(self.device)

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run one batch ``(n, channel, row, column)``; return each layer's output as numpy."""
        torch = _torch()
        net = self._model()
        captured: dict[str, np.ndarray] = {}
        _SINK.target = (self._key, captured, set(self.layers))
        try:
            with torch.inference_mode():
                x = self._prepare(batch)
                with contextlib.suppress(_Stop):
                    net(x)
        finally:
            _SINK.target = None
        missing = [name for name in self.layers if name not in captured]
        if missing:
            raise input_error(
                "layers", f"modules {missing} did not run in the forward pass",
                expected="modules that the network's forward() calls",
                fix="choose layers from xneuro.dnn.layers(net) that forward() uses",
            )
        return captured
