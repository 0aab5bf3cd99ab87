"""Demo stage ``dnn``: activations of a small CNN on the sample images, pooled, in Zarr."""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from xneuro.datasets import CATEGORIES, sample_images
from xneuro.demo import DemoContext, stage

LAYERS = ["features.1", "features.4", "features.7", "features.9", "classifier.1"]


def _category_contrast(pooled: xr.DataArray) -> float:
    """Mean correlation of stimulus patterns within minus between categories."""
    values = pooled.values.astype(np.float64)
    values = (values - values.mean(0)) / np.where(values.std(0) > 0, values.std(0), 1.0)
    corr = np.corrcoef(values)
    same = pooled["category"].values[:, None] == pooled["category"].values[None, :]
    off = ~np.eye(len(corr), dtype=bool)
    return float(corr[same & off].mean() - corr[~same].mean())


@stage("dnn", "DNN activations: extract (resumable Zarr) -> mask -> pool -> PCA", order=30)
def run(context: DemoContext) -> list[str]:
    """Extract five layers of a seeded AlexNet-like CNN, pool them and store them in Zarr."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import xneuro.dnn as dnn
    from xneuro.dnn.nets import small_alexnet

    images = sample_images(8, size=64, seed=0)
    net = small_alexnet(seed=0)
    path = context.out / "dnn_activations.zarr"
    start = time.perf_counter()
    act = dnn.extract(net, images, LAYERS, batch_size=8, store=path, fresh=True,
                      progress=context.progress)
    seconds = time.perf_counter() - start
    again = dnn.extract(net, images, LAYERS, batch_size=8, store=path)  # resumes: nothing to do
    lines = [
        f"{images.sizes['stimulus']} sample images ({', '.join(CATEGORIES)}) through a seeded "
        f"4-conv AlexNet-like net: {len(LAYERS)} layers in one pass per batch, "
        f"{images.sizes['stimulus'] / seconds:.0f} images/s into {path.name}",
        *(f"  {name}: {dict(node['activation'].sizes)}" for name, node in act.children.items()),
        f"re-running the same extraction resumes the job store and recomputes nothing "
        f"({len(again.children)} layers reopened lazily)",
    ]

    masked = act.dnn.mask(channels=list(range(0, 16, 2)), layers=["features.1", "features.4"])
    pooled = act.dnn.pool("max")
    pooled_path = context.out / "dnn_pooled.zarr"
    dnn.save_activations(pooled, pooled_path, mode="w")
    pooled = dnn.open_activations(pooled_path)
    pcs = pooled.dnn.fe("pca", 2)
    context.shared["activations"] = act
    context.shared["activations_pooled"] = pooled
    context.shared["images"] = images
    lines.append(
        f"lazy chain: mask(channels 0,2,..,14 of features.1/.4) -> "
        f"{dict(masked['features.4']['activation'].sizes)}; pool('max') -> {pooled_path.name}"
    )
    contrast = {name: _category_contrast(pooled[name]["activation"].load()) for name in LAYERS}
    lines.append("category contrast (within - between pattern correlation) per pooled layer: "
                 + ", ".join(f"{k} {v:.2f}" for k, v in contrast.items()))

    fig = plt.figure(figsize=(15, 6.4))
    grid = fig.add_gridspec(2, 6, height_ratios=[1, 1.5])
    for k, category in enumerate(CATEGORIES):
        ax = fig.add_subplot(grid[0, k])
        first = int(np.flatnonzero(images["category"].values == category)[0])
        ax.imshow(images.isel(stimulus=first).transpose("row", "column", "channel").values)
        ax.set_title(category, fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[0, 4:])
    ax.bar(range(len(contrast)), list(contrast.values()), color="tab:blue")
    ax.set_xticks(range(len(contrast)), list(contrast), fontsize=7)
    ax.set_title("category contrast of pooled layers", fontsize=9)
    for k, name in enumerate(["features.1", "features.9", "classifier.1"]):
        ax = fig.add_subplot(grid[1, 2 * k: 2 * k + 2] if k < 2 else grid[1, 4])
        values = pooled[name]["activation"].values
        values = (values - values.mean(0)) / np.where(values.std(0) > 0, values.std(0), 1.0)
        ax.imshow(values.T[:64], aspect="auto", cmap="RdBu_r", vmin=-2.5, vmax=2.5)
        ax.set(title=f"{name} {'max-pooled ' if k < 2 else ''}(z)",
               xlabel="stimulus (8 per category)",
               ylabel="channel" if k < 2 else "unit")
    ax = fig.add_subplot(grid[1, 5])
    scores = pcs["features.9"]["activation"]
    for category in CATEGORIES:
        chosen = scores["category"].values == category
        ax.scatter(scores.values[chosen, 0], scores.values[chosen, 1], s=14, label=category)
    ax.set(title="features.9 pooled: PCA", xlabel="PC1", ylabel="PC2")
    ax.legend(fontsize=7)
    fig.tight_layout()
    png = context.out / "dnn.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    lines.append(f"figure: {png.name}")
    return lines
