"""A small AlexNet-like CNN with seeded weights, for demos, tests and benchmarks.

No weights are downloaded: the network is initialised deterministically from a
seed, so its activations are reproducible and structured (oriented filters,
ReLU, pooling) without training. Importing this module imports torch.
"""

from __future__ import annotations

from typing import Any

from xneuro.core.backend import import_optional

__all__ = ["small_alexnet"]

_CLASS: Any = None


def _class() -> Any:
    """The network class, defined on first use (so that importing this module is cheap)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    torch = import_optional("torch", purpose="the sample network")
    nn = torch.nn

    class SmallAlexNet(nn.Module):
        """4 conv + 2 linear layers, AlexNet-like."""

        def __init__(self, width: int, n_classes: int) -> None:
            super().__init__()
            w = width
            self.features = nn.Sequential(
                nn.Conv2d(3, w, 5, stride=2, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.ReLU(inplace=True),
            )
            self.avgpool = nn.AdaptiveAvgPool2d(4)
            self.classifier = nn.Sequential(
                nn.Linear(4 * w * 16, 8 * w), nn.ReLU(inplace=True), nn.Linear(8 * w, n_classes)
            )

        def forward(self, x: Any) -> Any:
            x = self.avgpool(self.features(x))
            return self.classifier(torch.flatten(x, 1))

    SmallAlexNet.__module__ = __name__
    SmallAlexNet.__qualname__ = "SmallAlexNet"
    globals()["SmallAlexNet"] = SmallAlexNet
    _CLASS = SmallAlexNet
    return _CLASS


def small_alexnet(seed: int = 0, n_classes: int = 4, width: int = 16) -> Any:
    """Build a 4-conv, 2-FC AlexNet-like network with seeded weights, in eval mode.

    Layers (module paths): ``features.0`` conv 3->w (5x5, stride 2),
    ``features.1`` ReLU, ``features.2`` max-pool, ``features.3`` conv w->2w,
    ``features.4`` ReLU, ``features.5`` max-pool, ``features.6`` conv 2w->4w,
    ``features.7`` ReLU, ``features.8`` conv 4w->4w, ``features.9`` ReLU,
    ``avgpool`` (adaptive, 4x4), ``classifier.0`` linear 64w->8w,
    ``classifier.1`` ReLU, ``classifier.2`` linear 8w->n_classes.

    Parameters
    ----------
    seed : int
        Seed of the weight initialisation.
    n_classes : int
        Outputs of the last layer.
    width : int
        Channels of the first conv layer.

    Returns
    -------
    torch.nn.Module
    """
    torch = import_optional("torch", purpose="the sample network")
    nn = torch.nn
    generator = torch.Generator().manual_seed(seed)
    net = _class()(width, n_classes)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5
                )
                module.bias.copy_(0.01 * torch.randn(module.bias.shape, generator=generator))
    return net.eval()
