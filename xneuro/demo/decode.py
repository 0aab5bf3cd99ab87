"""Demo stage ``decode``: residual covariance (omega) and Bayesian decoding of a 1-D stimulus."""

from __future__ import annotations

import numpy as np
import xarray as xr

from xneuro.core import store
from xneuro.demo import DemoContext, stage

N_VOXELS = 100
N_TRAIN, N_TEST = 400, 150


def _population(rng: np.random.Generator) -> xr.Dataset:
    """Gaussian tuning curves over a numerosity-like range [1, 40]."""
    values = {"mu": rng.uniform(1, 40, N_VOXELS), "sd": rng.uniform(3, 10, N_VOXELS),
              "amplitude": rng.uniform(0.5, 2.0, N_VOXELS),
              "baseline": rng.uniform(-0.5, 0.5, N_VOXELS)}
    return xr.Dataset({k: ("voxel", v) for k, v in values.items()},
                      coords={"voxel": np.arange(N_VOXELS)})


@stage("decode", "noise model (ResidualFitter omega) -> posterior over the stimulus per trial",
       order=40)
def run(context: DemoContext) -> list[str]:
    """Fit omega on training trials, decode test trials, plot posteriors against the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xneuro.encoding import GaussianPRF, ResidualFitter, make_omega, pseudo_wwt

    rng = np.random.default_rng(0)
    truth = _population(rng)
    stimulus_range = np.linspace(1, 40, 200)
    model = GaussianPRF(parameters=truth)
    wwt = pseudo_wwt(model, stimulus_range)
    true_omega = make_omega(rng.uniform(0.4, 0.8, N_VOXELS), rho=0.2, sigma2=0.1,
                            wwt=wwt / wwt.mean())
    train_stim, test_stim = rng.uniform(3, 38, N_TRAIN), np.sort(rng.uniform(3, 38, N_TEST))
    test_stim = np.concatenate([test_stim[: N_TEST // 2], test_stim[N_TEST // 2:][::-1]])
    time = {"time": xr.DataArray(np.arange(N_TEST) * 2.0, dims="time", attrs={"units": "s"})}
    train = model.simulate(paradigm=train_stim, noise=true_omega, seed=1)
    test = xr.DataArray(model.simulate(paradigm=test_stim, noise=true_omega, seed=2).values,
                        dims=("time", "voxel"), coords=time, name="bold")

    fitter = ResidualFitter(model, train, paradigm=train_stim)
    omega, _ = fitter.fit(stimulus_range=stimulus_range, learning_rate=0.05,
                          max_n_iterations=400, progress=context.progress)
    fitted = fitter.fitted_omega_parameters
    decoded = test.chunk({"time": 50}).encode.decode(model, omega=omega,
                                                     stimulus_range=stimulus_range)
    decoded = decoded.assign(true_stimulus=("time", test_stim)).compute()
    path = context.out / "decoded.zarr"
    store.save(decoded.assign(omega=(("voxel", "voxel_"), np.asarray(omega))), path, mode="w",
               unit_dim="time", function="xneuro.demo.decode",
               settings={"n_voxels": N_VOXELS, "n_test": N_TEST, "seed": 0})
    context.shared["decoded"] = decoded

    r = float(np.corrcoef(decoded["mean"], test_stim)[0, 1])
    inside = float(np.mean(np.abs(decoded["mean"] - test_stim) < 2 * decoded["sd"]))
    integral = np.trapezoid(decoded["posterior"].values, stimulus_range, axis=1)
    info = model.get_fisher_information(np.array([5.0, 20.0, 35.0]), omega=omega)
    lines = [
        f"{N_VOXELS} Gaussian pRFs over a numerosity-like range [1, 40]; noise with "
        f"rho 0.2, sigma2 0.1 (pseudo-WW^T), tau in [0.4, 0.8]",
        f"ResidualFitter on {N_TRAIN} training trials ({fitter.costs.size} Adam steps): "
        f"rho {fitted['rho']:.3f} (true 0.2), sigma2 {fitted['sigma2']:.3f} (true 0.1)",
        f"decoded {N_TEST} test trials over {stimulus_range.size} stimulus values (dask, "
        f"chunks of 50 trials): r(posterior mean, truth) = {r:.3f}; truth within 2 SD in "
        f"{100 * inside:.0f}% of trials; posteriors integrate to "
        f"{integral.min():.6f}..{integral.max():.6f}",
        "Fisher information at 5, 20, 35: " + ", ".join(f"{v:.2f}" for v in info.values) +
        f" (Cramer-Rao SD {', '.join(f'{v:.2f}' for v in 1 / np.sqrt(info.values))})",
        f"wrote {path.name}",
    ]

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [2.3, 1]})
    t = decoded["time"].values
    axes[0].pcolormesh(t, stimulus_range, decoded["posterior"].values.T, shading="auto",
                       cmap="magma")
    axes[0].plot(t, test_stim, "c.", ms=4, label="true stimulus")
    axes[0].plot(t, decoded["mean"], color="w", lw=1, label="posterior mean")
    axes[0].set(xlabel="time (s)", ylabel="stimulus", title="posterior over time")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].errorbar(test_stim, decoded["mean"], yerr=decoded["sd"], fmt="o", ms=3,
                     alpha=0.6, lw=0.8)
    axes[1].plot([1, 40], [1, 40], "k--", lw=0.8)
    axes[1].set(xlabel="true stimulus", ylabel="posterior mean +- SD",
                title=f"decoded vs true (r = {r:.2f})")
    fig.tight_layout()
    png = context.out / "decode.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    lines.append(f"figure: {png.name}")
    return lines
