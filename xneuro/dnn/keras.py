"""Keras side of the extraction: layers by name, one multi-output model, channel-last images.

TensorFlow (or standalone Keras 3) is imported here only, and only when a
Keras model is given. The requested layers' outputs come from one functional
model ``keras.Model(net.inputs, [net.get_layer(n).output ...])`` called once
per batch (``training=False``); channel-last outputs are returned
channel-first so that every layer has xneuro's dims ``(stimulus, channel,
row, column)``. The model must be functional or Sequential with a known input
(``net.inputs``); a subclassed model without one cannot expose inner outputs.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from xneuro.core.backend import import_optional
from xneuro.core.errors import input_error
from xneuro.dnn._torch import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["KerasRunner", "keras_layers", "keras_module"]


def keras_module(net: Any) -> Any:
    """The Keras module that ``net`` belongs to (``keras`` 3, ``tf_keras`` or ``tf.keras``)."""
    top = type(net).__module__.split(".")[0]
    if top in ("keras", "tf_keras"):
        return import_optional(top, extra="tensorflow", purpose="Keras models")
    tensorflow = import_optional("tensorflow", purpose="extracting activations of Keras models")
    return tensorflow.keras


def keras_layers(net: Any) -> list[str]:
    """Names of the model's layers, in order."""
    return [layer.name for layer in net.layers]


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # Keras 3 on the torch backend
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):  # TensorFlow tensors and variables
        return np.asarray(value.numpy())
    return np.asarray(value)


def _channel_first(values: np.ndarray) -> np.ndarray:
    if values.ndim == 4:
        return values.transpose(0, 3, 1, 2)
    if values.ndim == 5:
        return values.transpose(0, 4, 1, 2, 3)
    return values


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from scipy import ndimage

    factors = (1, size[0] / x.shape[1], size[1] / x.shape[2], 1)
    out = ndimage.zoom(x, factors, order=1, grid_mode=True, mode="nearest")
    return out[:, : size[0], : size[1]]


class KerasRunner:
    """Runs batches through a Keras model and returns the requested layers' outputs.

    Parameters
    ----------
    net : keras.Model
        A functional or Sequential model with known inputs.
    layers : list of str
        Layer names.
    preprocess : "imagenet", None or callable
        As in :class:`~xneuro.dnn._torch.TorchRunner`, on channel-last numpy
        batches ``(n, row, column, channel)`` in [0, 1].
    size : (int, int), optional
        Resize (bilinear) before ``preprocess``.
    dtype : str
        Dtype of the returned outputs.
    """

    kind = "keras"

    def __init__(self, net: Any, layers: list[str], *, preprocess: Any,
                 size: tuple[int, int] | None, dtype: str) -> None:
        self.net = net
        self.layers = list(layers)
        self.preprocess = preprocess
        self.size = size
        self.dtype = dtype
        self._model: Any = None

    def layer_names(self) -> list[str]:
        """Every layer name of the model."""
        return keras_layers(self.net)

    def describe_preprocess(self) -> str:
        """A name of the preprocessing, for the job fingerprint."""
        if callable(self.preprocess):
            return getattr(self.preprocess, "__qualname__", type(self.preprocess).__name__)
        return str(self.preprocess)

    def fingerprint(self) -> str:
        """A digest of the architecture and the weights."""
        digest = hashlib.blake2b(digest_size=12)
        digest.update(f"{type(self.net).__qualname__}|{keras_layers(self.net)}".encode())
        for weight in self.net.weights:
            digest.update(np.ascontiguousarray(_to_numpy(weight)).tobytes())
        return digest.hexdigest()

    def open(self) -> None:
        """Build the multi-output model."""
        keras = keras_module(self.net)
        try:
            inputs = self.net.inputs
        except AttributeError:
            inputs = None
        if not inputs:
            raise input_error(
                "net", "is a Keras model without known inputs (subclassed, or never built)",
                expected="a functional or Sequential model built with an input shape",
                fix="build it with keras.Input(shape=...) or call it once on data",
            )
        outputs = [self.net.get_layer(name).output for name in self.layers]
        inputs = inputs[0] if len(inputs) == 1 else inputs
        self._model = keras.Model(inputs=inputs, outputs=outputs)

    def close(self) -> None:
        """Drop the multi-output model."""
        self._model = None

    def _prepare(self, batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float32) / (255.0 if batch.dtype.kind in "iu" else 1.0)
        x = x.transpose(0, 2, 3, 1)
        if self.size is not None and tuple(x.shape[1:3]) != tuple(self.size):
            x = _resize(x, self.size)
        if self.preprocess == "imagenet":
            if x.shape[-1] == 1:
                x = np.repeat(x, 3, axis=-1)
            x = (x - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
        elif callable(self.preprocess):
            x = self.preprocess(x)
        return x

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run one batch ``(n, channel, row, column)``; outputs channel-first, as numpy."""
        if self._model is None:
            self.open()
        outputs = self._model(self._prepare(batch), training=False)
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        return {
            name: np.array(_channel_first(_to_numpy(value)), dtype=self.dtype, copy=True)
            for name, value in zip(self.layers, outputs, strict=True)
        }
