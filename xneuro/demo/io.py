"""Demo stage ``io``: sample BOLD to NIfTI and back, events to a design, pRF maps to NIfTI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import store
from xneuro.datasets import sample_bold
from xneuro.demo import DemoContext, stage

#: The sample's voxel grid is given 2.5 mm voxels centred on the origin.
VOXEL_MM = 2.5


def _maps(context: DemoContext, sample: xr.Dataset) -> tuple[xr.Dataset, str]:
    fit = context.shared.get("prf_fit")
    if isinstance(fit, xr.Dataset) and {"x", "y"} <= set(fit.data_vars):
        names = [n for n in ("x", "y", "sd", "r2") if n in fit.data_vars]
        return fit[names], "fitted pRF parameters (encoding stage)"
    maps = sample[["true_x", "true_y"]].rename(true_x="x", true_y="y")
    return maps, "true pRF centres of the sample (no fitted pRF found)"


def _events(sample: xr.Dataset) -> pd.DataFrame:
    """One BIDS event per bar sweep: 8 directions of 20 frames, blanks after every second."""
    tr = float(sample.attrs["tr"])
    rows, frame = [], 0
    for k in range(8):
        rows.append({"onset": frame * tr, "duration": 20 * tr,
                     "trial_type": f"bar_{45 * k:03d}deg"})
        frame += 20 + (10 if k % 2 == 1 else 0)
    return pd.DataFrame(rows)


@stage("io", "sample BOLD -> NIfTI -> lazy load_bold; events -> design; pRF maps -> NIfTI", order=25)
def run(context: DemoContext) -> list[str]:
    """Write the sample to NIfTI, read it back lazily, build a design, write and show maps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nibabel as nib

    from xneuro import io

    sample = context.shared.get("sample")
    if sample is None:
        sample = sample_bold(n_voxels=400, seed=0)
    out = context.out
    shape = tuple(int(sample[c].max()) + 1 for c in "ijk")
    affine = np.diag([VOXEL_MM, VOXEL_MM, VOXEL_MM, 1.0])
    affine[:3, 3] = -VOXEL_MM * (np.asarray(shape) - 1) / 2
    bold_path = out / "sub-01_task-prf_run-1_bold.nii.gz"
    io.to_nifti(sample["bold"].assign_attrs(tr=sample.attrs["tr"]), bold_path, affine=affine,
                shape=shape)
    mask = np.zeros(shape, np.uint8)
    mask[sample["i"].values, sample["j"].values, sample["k"].values] = 1
    mask_path = out / "sub-01_brainmask.nii.gz"
    nib.save(nib.Nifti1Image(mask, affine), mask_path)

    bold = io.load_bold(bold_path, mask=mask_path, chunks={"voxel": 100})
    lines = [f"wrote {bold_path.name} ({'x'.join(map(str, shape))} voxels, "
             f"{sample.sizes['time']} volumes) and {mask_path.name}",
             f"load_bold: {dict(bold.sizes)}, {len(bold.chunks[1])} lazy voxel chunks, "
             f"TR {bold.attrs['tr']} s from the header, coords i/j/k + world_x/y/z (mm)"]
    index = pd.MultiIndex.from_arrays([sample[c].values for c in "ijk"])
    order = index.get_indexer(pd.MultiIndex.from_arrays([bold[c].values for c in "ijk"]))
    same = np.array_equal(bold.values, sample["bold"].values[:, order])
    zarr_path = out / "io_bold.zarr"
    store.save(bold, zarr_path, mode="w", unit_dim="voxel")
    lines.append(f"NIfTI -> load_bold matches the sample exactly: {same}; saved to {zarr_path.name}")

    events = _events(sample)
    design = io.events_to_paradigm(events, tr=float(sample.attrs["tr"]),
                                   n_vol=sample.sizes["time"], oversampling=10)
    lines.append(f"events_to_paradigm: {len(events)} bar sweeps -> design {dict(design.sizes)}, "
                 f"{int((design.sum('condition') > 0).sum())} volumes with a bar")

    maps, what = _maps(context, sample)
    written = io.to_nifti(maps, out / "prf_{name}.nii.gz", like=bold_path)
    lines.append(f"wrote {what} to {', '.join(p.name for p in written.values())}")

    k = shape[2] // 2
    mean_img = nib.load(bold_path).get_fdata(dtype=np.float32).mean(axis=3)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    panels = [("mean BOLD", mean_img, "gray"),
              ("pRF x (deg)", nib.load(written["x"]).get_fdata(), "RdBu_r"),
              ("pRF y (deg)", nib.load(written["y"]).get_fdata(), "RdBu_r")]
    for ax, (title, volume, cmap) in zip(axes, panels, strict=True):
        shown = np.ma.masked_invalid(volume[:, :, k].T)
        limits = {} if cmap == "gray" else {"vmin": -1, "vmax": 1}
        im = ax.imshow(shown, origin="lower", cmap=cmap, **limits)
        ax.set_title(f"{title}, slice k = {k}")
        ax.set_xlabel("i")
        ax.set_ylabel("j")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle("NIfTI files written by xneuro.io, read back with nibabel")
    fig.tight_layout()
    png = out / "io.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    lines.append(f"figure: {png.name}")
    return lines
