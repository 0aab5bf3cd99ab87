"""Demo stage ``fit``: grid + gradient fit of the simulated pRF dataset, resumable into Zarr."""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from xneuro.core import store
from xneuro.demo import DemoContext, stage

LABELS = ("x", "y", "sd", "amplitude", "baseline")


def _plot(path, fit: xr.Dataset, truth: xr.Dataset, r2_true: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 8))
    for ax, label in zip(axes.ravel()[:4], ("x", "y", "sd", "amplitude"), strict=True):
        true, fitted = truth[label].values, fit[label].values
        ax.scatter(true, fitted, s=6, c=fit["r2"].values, cmap="viridis", vmin=0, vmax=1)
        low, high = float(np.nanmin(true)), float(np.nanmax(true))
        ax.plot([low, high], [low, high], "k--", lw=0.8)
        r = np.corrcoef(true, fitted)[0, 1]
        ax.set(title=f"{label}: r = {r:.3f}", xlabel=f"true {label}", ylabel=f"fitted {label}")
    ax = axes[1, 1]
    some = slice(None, None, max(1, truth.sizes["voxel"] // 120))  # a readable subset
    tx, ty, fx, fy = (v.values[some] for v in (truth["x"], truth["y"], fit["x"], fit["y"]))
    ax.quiver(tx, ty, fx - tx, fy - ty, angles="xy", scale_units="xy", scale=1, width=0.004,
              color="0.4")
    ax.scatter(tx, ty, s=10, c="k", label="true")
    ax.scatter(fx, fy, s=14, c=fit["sd"].values[some], cmap="magma",
               label="fitted (colour: sd)")
    ax.set(title="visual-field map: true -> fitted pRF centres", xlabel="x (deg)",
           ylabel="y (deg)", aspect="equal")
    ax.legend(fontsize=8, loc="upper right")
    ax = axes[1, 2]
    ax.scatter(r2_true, fit["r2"], s=6)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(title="R2: fitted model vs true model", xlabel="R2 of the true parameters",
           ylabel="R2 of the fit")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@stage("fit", "grid + gradient pRF fit of every voxel (Dask, resumable Zarr), vs the truth",
       order=20)
def run(context: DemoContext) -> list[str]:
    """Fit the simulated pRF data of the encoding stage and compare with the true parameters."""

    prf = context.shared.get("prf")
    if prf is None:
        return ["skipped: the encoding stage did not run (xneuro demo --stage encoding --stage "
                "fit)"]
    model, truth = prf["model"], prf["parameters"]
    lazy = store.open(prf["store"])
    bold = lazy["bold"]
    n_voxels = bold.sizes["voxel"]
    path = context.out / "prf_fit.zarr"
    began = time.perf_counter()
    fit = bold.encode.fit(model, lazy["paradigm"].load(), store=path, fresh=True,
                          unit_size=n_voxels // 2, progress=context.progress)
    seconds = time.perf_counter() - began
    began = time.perf_counter()
    bold.encode.fit(model, lazy["paradigm"].load(), store=path, unit_size=n_voxels // 2)
    resumed = time.perf_counter() - began  # every unit is recorded: nothing is recomputed
    fit = fit.load()
    lines_sample = _fit_sample(context)
    data = prf["data"].values
    prediction = model.predict(parameters=truth).values
    centred = data - data.mean(0)
    r2_true = 1 - ((data - prediction) ** 2).sum(0) / (centred**2).sum(0)
    corr = {k: np.corrcoef(truth[k].values, fit[k].values)[0, 1] for k in LABELS}
    lines = [
        f"fitted {n_voxels} voxels x {bold.sizes['time']} TRs from the lazy Zarr store into "
        f"{path.name} (2 resumable units, default grid of 4000 points, 1000 Adam iterations, "
        f"per-voxel early stopping) in {seconds:.1f} s; the same call again finds every unit "
        f"done and returns in {resumed:.1f} s",
        "recovery r: " + ", ".join(f"{k} {v:.3f}" for k, v in corr.items()),
        f"mean R2: fit {float(fit['r2'].mean()):.3f} vs true parameters "
        f"{float(r2_true.mean()):.3f}",
    ]
    png = context.out / "fit.png"
    _plot(png, fit, truth, r2_true)
    return [*lines, *lines_sample, f"figure: {png.name}"]


def _fit_sample(context: DemoContext) -> list[str]:
    """Fit the foundation's sample too (its voxels have volume positions) for the io stage."""
    from xneuro.datasets import sample_bold
    from xneuro.encoding import GaussianPRF2DWithHRF
    from xneuro.encoding.fit import fit_parameters
    from xneuro.hrf import SPMHRFModel

    sample = context.shared.get("sample")
    if sample is None:
        sample = sample_bold(n_voxels=400, seed=0)
    paradigm = sample["paradigm"].load()
    model = GaussianPRF2DWithHRF(paradigm=paradigm,
                                 hrf_model=SPMHRFModel(tr=float(sample.attrs["tr"])))
    fit = fit_parameters(sample["bold"], model, paradigm, unit_size=250).compute()
    context.shared["prf_fit"] = fit  # voxel coords i, j, k kept: maps for the io stage
    r = {k: np.corrcoef(sample[f"true_{k}"].values, fit[k].values)[0, 1] for k in ("x", "y")}
    return [f"the foundation sample ({fit.sizes['voxel']} voxels with volume positions) fitted "
            f"the same way for the io stage's maps: r(x) {r['x']:.3f}, r(y) {r['y']:.3f}, "
            f"mean R2 {float(fit['r2'].mean()):.3f}"]
