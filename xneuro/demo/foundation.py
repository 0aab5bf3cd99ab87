"""Demo stage ``foundation``: the sample BOLD dataset, Zarr round trip and a resumable job."""

from __future__ import annotations

import numpy as np
import xarray as xr

from xneuro.core import jobs, store
from xneuro.datasets import sample_bold
from xneuro.demo import DemoContext, stage


def _best_pixel_unit(bold: xr.DataArray, paradigm: xr.DataArray, lag: int):
    """Per voxel, the stimulus pixel whose (lagged) timecourse correlates best: a crude pRF."""
    pixels = paradigm.stack(pixel=("y", "x")).shift(time=lag, fill_value=0.0).values
    pixels = (pixels - pixels.mean(0)) / np.where(pixels.std(0) > 0, pixels.std(0), 1.0)
    px = paradigm.stack(pixel=("y", "x"))

    def compute_unit(index: int, region: slice) -> xr.Dataset:
        block = bold.isel(voxel=region).values
        z = (block - block.mean(0)) / block.std(0)
        corr = pixels.T @ z / len(z)  # (pixel, voxel) as one matrix product
        best = corr.argmax(0)
        return xr.Dataset(
            {
                "x": ("voxel", px["x"].values[best].astype(np.float32)),
                "y": ("voxel", px["y"].values[best].astype(np.float32)),
                "r": ("voxel", corr.max(0).astype(np.float32)),
            },
            coords={"voxel": bold["voxel"].values[region]},
        )

    return compute_unit


@stage("foundation", "sample BOLD -> Zarr -> lazy reopen -> resumable per-voxel job", order=0)
def run(context: DemoContext) -> list[str]:
    """Write the sample data to Zarr, reopen it lazily and run a resumable job on it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sample = sample_bold(n_voxels=400, seed=0)
    path = context.out / "sample_bold.zarr"
    store.save(sample, path, mode="w", unit_dim="voxel")
    lazy = store.open(path)
    context.shared["sample"] = lazy
    lines = [
        f"wrote {path.name}: bold {dict(lazy['bold'].sizes)}, paradigm {dict(lazy['paradigm'].sizes)}",
        f"reopened lazily: bold chunks {lazy['bold'].chunksizes['voxel']} on voxel, "
        f"time in one chunk; written by xneuro {lazy.attrs['xneuro_version']}",
    ]

    template = xr.Dataset(
        {name: ("voxel", np.zeros(lazy.sizes["voxel"], np.float32)) for name in ("x", "y", "r")},
        coords={"voxel": lazy["voxel"].values},
    )
    job_path = context.out / "best_pixel.zarr"
    settings = {"statistic": "best-correlated pixel", "lag_volumes": 3}
    job = jobs.ResumableJob(
        job_path, template, settings=settings, unit_size=100, fresh=True,
        function="xneuro.demo.foundation",
    )
    unit = _best_pixel_unit(lazy["bold"], lazy["paradigm"].load(), lag=3)
    result = job.run(unit, progress=context.progress)
    again = jobs.ResumableJob(
        job_path, template, settings=settings, unit_size=100, function="xneuro.demo.foundation"
    )
    lines.append(
        f"resumable job: {len(job.units)} units of {job.unit_size} voxels into {job_path.name}; "
        f"calling it again finds {len(again.pending())} pending (nothing recomputed)"
    )
    r_x = np.corrcoef(result["x"], sample["true_x"])[0, 1]
    r_y = np.corrcoef(result["y"], sample["true_y"])[0, 1]
    lines.append(
        f"best-correlated pixel vs true pRF centre: r(x) = {r_x:.2f}, r(y) = {r_y:.2f} "
        "(a crude estimate; the encoding stage fits the real model)"
    )

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1, 2.4, 1.2]})
    frame = int(lazy["paradigm"].sum(("x", "y")).argmax("time"))
    lazy["paradigm"].isel(time=frame).plot(ax=axes[0], cmap="gray", add_colorbar=False)
    axes[0].set_title(f"bar aperture, t = {float(lazy.time[frame]):.0f} s")
    axes[0].set_aspect("equal")
    best = np.argsort(result["r"].values)[-3:]
    for v in best:
        lazy["bold"].isel(voxel=v).plot(ax=axes[1], lw=1, label=f"voxel {v}")
    axes[1].set_title("three voxels best driven by one pixel")
    axes[1].legend(fontsize=8)
    axes[2].scatter(sample["true_x"], result["x"], s=8, label="x")
    axes[2].scatter(sample["true_y"], result["y"], s=8, label="y")
    axes[2].plot([-1, 1], [-1, 1], "k--", lw=0.8)
    axes[2].set(title="best pixel vs true pRF centre", xlabel="true (deg)", ylabel="best pixel (deg)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    png = context.out / "foundation.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    lines.append(f"figure: {png.name}")
    return lines
