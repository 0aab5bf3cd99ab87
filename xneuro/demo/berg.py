"""Demo stage ``berg``: in-silico fMRI from a miniature BERG directory, back into the volume."""

from __future__ import annotations

import shutil
import time

import numpy as np

from xneuro.demo import DemoContext, stage

FWRF = "fmri-nsd-fwrf"
MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"


@stage("berg", "BERG in-silico fMRI: NSD fwRF and MOSAIC CNN8 -> Zarr -> volume", order=50)
def run(context: DemoContext) -> list[str]:
    """Encode the sample images with both BERG models and map V1 back into the volume."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xneuro.berg import BERG, to_grayordinates, to_volume
    from xneuro.berg.testing import make_miniature_berg
    from xneuro.datasets import sample_images

    root = context.out / "berg-miniature"
    if (root / "MINIATURE.txt").is_file():
        shutil.rmtree(root)
    make_miniature_berg(root, fwrf_rois={1: ("V1", "V2", "V3", "hV4", "FFA-1")},
                        mosaic_subjects=(1, 2))
    lines = [f"wrote a miniature BERG directory (BERG's files and keys, random weights) to "
             f"{root.name}/"]
    berg = BERG(root)
    # the DNN stage's images when it ran, so that the RSA stage compares both over the same
    # stimuli: pixels repeated up to BERG's 227 px minimum; else the same names at 227 px
    shared = context.shared.get("images")
    if shared is None:
        images = sample_images(8, size=227, seed=0)
    else:
        repeat = np.repeat(np.arange(shared.sizes["row"]), -(-227 // shared.sizes["row"]))
        images = shared.isel(row=repeat, column=repeat)
        lines.append(f"stimuli: the DNN stage's {shared.sizes['stimulus']} images, each pixel "
                     f"repeated to {images.sizes['row']} px (the RSA stage compares the same items)")
    context.shared["berg_images"] = images if shared is None else shared

    start = time.perf_counter()
    fwrf = berg.get_encoding_model(FWRF, subject=1, selection={"roi": ["V1", "V2", "V3", "hV4"]},
                                   device="cpu")
    resp, meta = berg.encode(fwrf, images, return_metadata=True, batch_size=8,
                             store=context.out / "berg_fwrf.zarr", fresh=True,
                             show_progress=context.progress)
    counts = dict(zip(*np.unique(resp["roi"].values, return_counts=True), strict=True))
    lines.append(f"fwRF subject 1, V1-hV4: responses {dict(resp.sizes)} (voxels per ROI "
                 f"{ {k: int(v) for k, v in counts.items()} }) written to berg_fwrf.zarr in "
                 f"{time.perf_counter() - start:.1f} s, batch by batch (resumable)")
    volume = to_volume(resp, roi="V1").load()
    lines.append(f"V1 back into the volume: {dict(volume.sizes)}, "
                 f"{int(np.isfinite(volume.values[0]).sum())} finite voxels")

    start = time.perf_counter()
    mosaic = berg.get_encoding_model(MOSAIC, subject=[1, 2], device="cpu", selection={
        "roi": ["L_V1", "R_V1"], "glasser_group": [2, 5]})
    vresp = berg.encode(mosaic, images, batch_size=8)
    full = to_grayordinates(vresp)
    lines.append(f"MOSAIC CNN8, subjects 1-2, L_V1 + R_V1 + groups 2 and 5: {dict(vresp.sizes)} "
                 f"in {time.perf_counter() - start:.1f} s; in 91k grayordinates "
                 f"{int(np.isnan(full.values[0, 0]).sum())} NaN per image")
    context.shared["berg_fwrf"] = resp

    mean = volume.mean("stimulus")
    k = int(np.argmax(np.isfinite(volume.values[0]).sum(axis=(0, 1))))
    by_category = volume.groupby("category").mean("stimulus")
    contrast = by_category.sel(category="grating") - by_category.sel(category="texture")
    inside = np.argwhere(np.isfinite(volume.values[0, :, :, k]))
    (i0, j0), (i1, j1) = inside.min(0) - 4, inside.max(0) + 5
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, data, title in ((axes[0], mean, f"mean of {images.sizes['stimulus']} images"),
                            (axes[1], contrast, "gratings - textures")):
        window = data.isel(k=k, i=slice(max(i0, 0), i1), j=slice(max(j0, 0), j1))
        limit = float(np.nanmax(np.abs(window.values)))
        image = ax.imshow(window.T, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit,
                          interpolation="nearest",
                          extent=(window.i[0] - 0.5, window.i[-1] + 0.5, window.j[0] - 0.5,
                                  window.j[-1] + 0.5))
        ax.set(title=f"V1, volume slice k={k}: {title}", xlabel="i", ylabel="j")
        fig.colorbar(image, ax=ax, shrink=0.8, label="in-silico z")
    groups = vresp.groupby("glasser_group").mean("vertex").mean("stimulus")
    for subject in groups["subject"].values:
        axes[2].plot(groups["glasser_group"], groups.sel(subject=subject), "o-",
                     label=f"sub-{subject:02d}")
    axes[2].set(title="MOSAIC: mean response per Glasser group", xlabel="Glasser group",
                ylabel="in-silico response (a.u.)")
    axes[2].legend(fontsize=8)
    fig.suptitle("miniature BERG directory (random weights): the pipeline, not the science")
    fig.tight_layout()
    png = context.out / "berg.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    lines.append(f"figure: {png.name} ({len(meta.data_vars)} metadata variables per voxel "
                 "alongside, e.g. ncsnr, r2)")
    return lines
