"""Demo stage ``rsa``: RDMs of two DNN layers and of (in-silico) responses, compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from xneuro.core import store
from xneuro.datasets import sample_images
from xneuro.demo import DemoContext, stage


def _fallback_activations(images: xr.DataArray) -> xr.DataTree:
    """Two 'layers' of a tiny fixed random network on the sample images (no weights needed)."""
    rng = np.random.default_rng(0)
    x = images.astype(np.float32).coarsen(row=4, column=4, boundary="trim").mean() / 255.0
    flat = x.values.reshape(x.sizes["stimulus"], -1)
    flat = flat - flat.mean(0)
    w1 = rng.normal(size=(flat.shape[1], 256)).astype(np.float32) / np.sqrt(flat.shape[1])
    h1 = np.maximum(flat @ w1, 0)
    w2 = rng.normal(size=(256, 64)).astype(np.float32) / 16.0
    h2 = np.maximum((h1 - h1.mean(0)) @ w2, 0)
    coords = {"stimulus": images["stimulus"].values, "category": ("stimulus",
                                                                   images["category"].values)}
    return xr.DataTree.from_dict({
        f"random_{name}": xr.Dataset({"activation": (("stimulus", "unit"), h)}, coords=coords)
        for name, h in (("proj1", h1), ("proj2", h2))
    })


def _stimulus_set(context: DemoContext) -> xr.DataArray:
    """The one image set of this run: the DNN stage's, else the BERG stage's, else a fresh one."""
    for key in ("images", "berg_images"):
        value = context.shared.get(key)
        if isinstance(value, xr.DataArray):
            return value
    return sample_images(n_per_category=8, size=64)


def _same_images(a: xr.DataArray | None, b: xr.DataArray | None) -> bool:
    """Whether two stimulus sets are the same images (names and pixels), not just the same names."""
    if a is None or b is None:
        return False
    if a is b:
        return True
    return (a.shape == b.shape and list(a["stimulus"].values) == list(b["stimulus"].values)
            and bool(np.array_equal(a.values, b.values)))


def _layers(
    context: DemoContext, images: xr.DataArray
) -> tuple[dict[str, xr.DataArray], str, xr.DataArray | None]:
    """Two layers' activations, where they came from, and the images they were computed on."""
    tree = context.shared.get("activations")
    source, seen = "the DNN stage", context.shared.get("images")
    if not isinstance(tree, xr.DataTree) or not [n for n in tree.subtree if "activation" in n]:
        tree, source = _fallback_activations(images), "a fixed random projection (no DNN stage)"
        seen = images
    nodes = [n for n in tree.subtree if "activation" in n.data_vars]
    chosen = [nodes[0], nodes[-1]] if len(nodes) > 1 else nodes
    return {n.path.strip("/"): n["activation"] for n in chosen}, source, seen


def _berg(context: DemoContext) -> xr.DataArray | None:
    """The BERG stage's in-silico responses (stimulus, voxel), if that stage ran."""
    for key in ("berg_responses", "berg_fwrf"):
        value = context.shared.get(key)
        if isinstance(value, xr.Dataset) and value.data_vars:
            value = value["response"] if "response" in value else next(iter(value.data_vars.values()))
        if isinstance(value, xr.DataArray) and {"stimulus", "voxel"} <= set(value.dims):
            return value.transpose("stimulus", "voxel").load()
    return None


def _simulated(layer: xr.DataArray, stimuli: np.ndarray) -> xr.DataArray:
    """200 voxels, each a random positive mixture of a layer's units, plus noise."""
    rng = np.random.default_rng(1)
    feats = layer.stack(feature=[d for d in layer.dims if d != "stimulus"]).values.astype(float)
    signal = feats @ rng.gamma(1.0, size=(feats.shape[1], 200))
    noisy = signal + rng.normal(size=signal.shape) * 0.5 * signal.std(0)
    return xr.DataArray(noisy, dims=("stimulus", "voxel"),
                        coords={"stimulus": stimuli, "voxel": np.arange(200)})


def _berg_category_lines(berg: xr.DataArray, layers: dict[str, xr.DataArray]) -> list[str]:
    """Category-level comparisons with BERG responses to other images of the same categories."""
    from xneuro.rsa import compare, rdm

    if "category" not in berg.coords or any("category" not in a.coords for a in layers.values()):
        return ["BERG responses found but without categories: not compared"]
    berg_cat = rdm(berg, metric="correlation", labels="category")
    lines = []
    for name, act in layers.items():
        score = compare(rdm(act, metric="correlation", labels="category"), berg_cat, "pearson")
        lines.append(f"category-level RDMs (4 x 4), {name} vs BERG fwRF {dict(berg.sizes)}: "
                     f"pearson {float(score):+.3f} (BERG encoded other images of the same "
                     "names; only the categories are shared)")
    return lines


def _figure(path: Path, rdms: dict[str, xr.DataArray], results: dict[str, xr.Dataset],
            n_items: int, responses: str) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rdms) + 1, figsize=(3.9 * (len(rdms) + 1), 3.9))
    for ax, (name, value) in zip(axes, rdms.items(), strict=False):
        im = ax.imshow(value.values, cmap="viridis")
        res = results.get(name)
        ax.set_title(name if res is None else f"{name}\n{res.attrs['method']} vs responses "
                     f"{float(res.score):+.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046)
    ax = axes[-1]
    names = list(results)
    ax.bar(range(len(names)), [float(results[n].score) for n in names], color="tab:blue")
    for k, n in enumerate(names):
        ax.text(k, float(results[n].score), f"p={float(results[n].p_value):.3f}",
                ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names, fontsize=7, rotation=15)
    ax.set_title("similarity to the response RDM", fontsize=9)
    fig.suptitle(f"correlation-distance RDMs of {n_items} sample images (sorted by category); "
                 f"responses: {responses}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@stage("rsa", "RDMs of two DNN layers and of in-silico responses, compared (RSA)", order=55)
def run(context: DemoContext) -> list[str]:
    """Build RDMs, compare them with permutation inference and fit a voxelwise ridge."""
    import matplotlib

    matplotlib.use("Agg")

    from xneuro.encoding.ridge import fit_ridge
    from xneuro.rsa import RDM, compare, rdm

    images = _stimulus_set(context)
    layers, source, layer_images = _layers(context, images)
    first = next(iter(layers.values()))
    stimuli = first["stimulus"].values if "stimulus" in first.coords else images.stimulus.values
    berg = _berg(context)
    # item-by-item RSA needs the same stimuli on both sides: the same names are not enough
    # (images rendered at another size carry other texture noise), so compare the pixels
    same_items = (berg is not None and _same_images(context.shared.get("berg_images"),
                                                    layer_images)
                  and list(map(str, berg["stimulus"].values)) == list(map(str, stimuli)))
    if same_items:
        responses, short = berg, "BERG fwRF in-silico fMRI of the same images"
        resp_source = (f"BERG in-silico responses to the same {len(stimuli)} images "
                       f"({layer_images.sizes['row']} px) the layers saw")
    else:
        short = "simulated voxels"
        responses = _simulated(list(layers.values())[-1], stimuli)
        resp_source = "simulated voxels (random mixtures of the last layer's units + noise)"
    rdms = {name: rdm(act, metric="correlation") for name, act in layers.items()}
    rdms["responses"] = rdm(responses, metric="correlation")
    if "category" in first.coords:
        categories = first["category"].values
        rdms["category model"] = rdms["responses"].copy(
            data=(categories[:, None] != categories[None, :]).astype(float))
    lines = [f"layers {list(layers)} from {source}; responses: {resp_source} "
             f"{dict(responses.sizes)}"]
    results = {}
    for name, value in rdms.items():
        if name == "responses":
            continue
        method = "kendall" if name == "category model" else "spearman"
        results[name] = res = compare(value, rdms["responses"], method, inference="permutation",
                                      n_iter=1000, seed=0, progress=False)
        lines.append(f"{name} vs responses: {method} {float(res.score):+.3f}, permutation "
                     f"p = {float(res.p_value):.4f} (1000 item-label permutations)")
    if berg is not None and not same_items:
        lines += _berg_category_lines(berg, layers)

    last = list(layers.values())[-1]
    feats = last.stack(feature=[d for d in last.dims if d != "stimulus"]).astype(float)
    feats = feats.drop_vars([c for c in feats.coords if "feature" in feats[c].dims])
    folds = np.random.default_rng(2).permutation(len(stimuli)) % 4  # shuffled: mixes categories
    splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(4)]
    fit = fit_ridge(feats, responses.assign_coords(stimulus=feats["stimulus"].values), cv=splits,
                    alphas=np.logspace(-3, 5, 17), dtype="float64")
    lines.append(f"ridge from {list(layers)[-1]} to {responses.sizes['voxel']} voxels "
                 f"(4 shuffled folds, alpha per voxel): median cv R² "
                 f"{float(fit.cv_r2.median()):.3f}, median alpha {float(fit.alpha.median()):g}")

    ds = xr.Dataset({name.replace(" ", "_"): value for name, value in rdms.items()},
                    attrs={"metric": "correlation"})
    for name, res in results.items():
        ds.attrs[f"score_{name.replace(' ', '_')}"] = float(res.score)
        ds.attrs[f"p_{name.replace(' ', '_')}"] = float(res.p_value)
    path = context.out / "rsa.zarr"
    store.save(ds, path, mode="w", function="xneuro.demo.rsa")
    container = RDM.from_xarray(ds)
    h5 = context.out / "rdms.rdm.h5"
    container.save(h5)
    lines.append(f"wrote {path.name} ({len(rdms)} labeled RDMs) and {h5.name} (dnnbrain layout, "
                 f"{container.rdm_type}, {container.n_item} items)")
    context.shared["rdms"] = ds
    shown = dict(rdms)
    if berg is not None and not same_items:
        shown[f"BERG fwRF ({berg.sizes['stimulus']} own images)"] = rdm(berg)
    png = context.out / "rsa.png"
    _figure(png, shown, results, len(stimuli), short)
    lines.append(f"figure: {png.name}")
    return lines
