"""Benchmark xneuro.dnn against dnnbrain's recorded figures: pool, fe, convolve_hrf, I/O, extraction.

Work (random ReLU-like float32 activations, seeded):

1. ``layer``: one conv layer (n stimuli x 256 channels x 14 x 14; n = 2000 as in
   the reference notes, 200 with ``--quick``) in memory: ``pool`` (each method;
   L1/L2 both as vector norms and as dnnbrain's matrix norms), ``fe`` (pca,
   hist, psd; each axis), ``convolve_hrf`` (dnnbrain's event designs),
   ``.act.h5`` save/load and Zarr save/load.
2. ``sweep``: pool max, fe pca and convolve_hrf as n grows.
3. ``extract``: images/s of a small AlexNet-like CNN (4 conv layers, 64 x 64
   images): xneuro (all layers in one pass, batch 64) beside the way dnnbrain
   extracts (one pass over the stimuli per layer, batch 8; emulated here
   with plain PyTorch hooks, since dnnbrain ships no weights here).
4. ``big``: a layer 4x larger than the memory limit (default 500 MB: 10,000 x
   256 x 14 x 14 float32 = 2.0 GB in a Zarr store, chunks of 50 stimuli).
   Every operation runs in a child process whose resident memory the parent
   watches every 20 ms and kills above its baseline (python + xneuro + the
   opened store) plus the limit; results stream to Zarr. Also an extraction
   of 2000 images into a store (400 MB layer) under the limit.

dnnbrain was not installed (it pins numpy 1.16 and needs weights that are not
available here). Two dnnbrain columns: ``dnnb here`` re-runs, in this process
and under the same load, the numpy/scipy/scikit-learn calls that dnnbrain
makes for the case (as the reference notes describe them; slow ones on a
fraction of the work, scaled up); ``recorded`` is dnnbrain's own time from the
reference notes (measured at another time, so other load).
Our memory is the peak RSS during the operation above the RSS before it
(``/proc/self/clear_refs``); ``big`` reports the child's whole peak RSS. The
1-minute load average is printed with each section: other jobs share the
2 CPU cores, so times vary between runs.

Usage::

    python benchmarks/bench_dnn.py --quick       # smallest sizes, < 60 s
    python benchmarks/bench_dnn.py               # the issue's sizes (several minutes)
    python benchmarks/bench_dnn.py --json dnn.json --limit-mb 500
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CHANNELS, SIDE = 256, 14

#: dnnbrain's wall times from the reference notes (2000 x 256 x 14 x 14 unless noted).
RECORDED = {
    "pool max": 0.116, "pool mean": 0.077, "pool median": 2.01,
    "pool L1 (matrix)": 0.53, "pool L2 (matrix)": 13.7,
    "fe pca 50 (axis None)": 8.9, "fe pca 10 (row_col)": 3.5,
    "fe hist 20 (axis None)": 1.9, "fe psd 50 (axis None)": 3.3,
    "fe hist 10 (row_col)": 59.0,
    "convolve_hrf pooled 256, 150 events, ops=100": 1.04,
    "convolve_hrf 50176 units, 150 events, ops=10": 18.4,
    "convolve_hrf 50176 units, 150 events, ops=100": 197.0,
    "convolve_hrf pooled 256, 2000 frames, ops=100": 1.65,
    ".act.h5 save": 17.5, ".act.h5 load": 4.3,
}
NOTES = {"fe hist 10 (row_col)": "recorded 5.9 s for 200 stimuli, x10"}


# ----------------------------------------------------------------------------- measuring


def _kib(field: str) -> int:
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure(op: Callable[[], Any]) -> tuple[float, float]:
    """Wall seconds and peak RSS above the starting RSS (MB) of ``op()``."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        pass
    before = _kib("VmRSS")
    start = time.perf_counter()
    op()
    seconds = time.perf_counter() - start
    return seconds, max(_kib("VmHWM") - before, 0) / 1024


def load() -> float:
    return os.getloadavg()[0]


def row(table: list[dict], case: str, seconds: float, mb: float,
        peer: float | None = None, **extra: Any) -> None:
    """Print and keep one line: ours, dnnbrain's calls re-run here, dnnbrain's recorded time."""
    recorded = RECORDED.get(case)
    entry = {"case": case, "seconds": round(seconds, 4), "peak_mb": round(mb, 1),
             "dnnbrain_here_s": None if peer is None else round(peer, 4),
             "speedup_here": round(peer / seconds, 1) if peer and seconds > 0 else None,
             "dnnbrain_recorded_s": recorded,
             "speedup_recorded": round(recorded / seconds, 1) if recorded and seconds > 0 else None,
             "load": round(load(), 2), **extra}
    if case in NOTES:
        entry["note"] = NOTES[case]
    table.append(entry)

    def cell(value: float | None, width: int = 9) -> str:
        return f"{value:>{width}.3f}" if value is not None else " " * (width - 1) + "-"

    def ratio(value: float | None) -> str:
        return f"{value:>7.1f}x" if value is not None else "       -"

    note = entry.get("note")
    print(f"  {case:<46} {seconds:>8.3f} {mb:>7.0f} {cell(entry['dnnbrain_here_s'])} "
          f"{ratio(entry['speedup_here'])} {cell(recorded)} {ratio(entry['speedup_recorded'])}"
          f"  load {entry['load']:.1f}" + (f"  ({note})" if note else ""), flush=True)


def header(title: str) -> None:
    print(f"\n{title}  (1-min load average {load():.1f})")
    print(f"  {'case':<46} {'ours s':>8} {'peak MB':>7} {'dnnb here':>9} {'speedup':>8} "
          f"{'recorded':>9} {'speedup':>8}")


def make_layer(n: int, seed: int = 0) -> Any:
    import xarray as xr

    rng = np.random.default_rng(seed)
    values = np.maximum(rng.standard_normal((n, CHANNELS, SIDE, SIDE), dtype=np.float32), 0)
    return xr.DataArray(values, dims=("stimulus", "channel", "row", "column"), name="conv5")


def events_150() -> tuple[np.ndarray, np.ndarray, int, float]:
    return 6.0 + 4.0 * np.arange(150), np.ones(150), 310, 2.0


# ----------------------------------------------------------------------------- dnnbrain's calls


def dnnbrain_convolve(x: np.ndarray, onsets: np.ndarray, durations: np.ndarray, n_vol: int,
                      tr: float, ops: int) -> np.ndarray:
    """dnnbrain's convolve_hrf as the reference notes describe it (positive onsets)."""
    import scipy.signal
    from scipy.stats import gamma

    x = np.insert(x, 0, 0.0, axis=0)
    onsets, durations = np.insert(onsets, 0, 0.0), np.insert(durations, 0, onsets.min())
    volumes = (np.arange(n_vol) * tr * ops).astype(int)
    t = np.linspace(0, 32, int(32 * ops))
    hrf = gamma.pdf(t, 6, loc=1 / ops) - 0.167 * gamma.pdf(t, 16, loc=1 / ops)
    hrf /= hrf.sum()
    out = []
    step = int(100000 / ops)
    for first in range(0, x.shape[1], step):
        part = x[:, first:first + step]
        boxcar = np.zeros((int((onsets + durations).max() * ops), part.shape[1]), np.float32)
        for i, onset in enumerate(onsets):
            start = int(onset * ops)
            boxcar[start:int(start + durations[i] * ops)] = part[i]
        out.append(scipy.signal.convolve(boxcar, hrf[:, None], method="fft")[volumes])
    return np.concatenate(out, axis=1)


def peer_calls(x: np.ndarray) -> dict[str, tuple[Callable[[], Any], float]]:
    """dnnbrain's computation for each case (numpy/scipy/sklearn calls), with the factor by
    which a subset's time is scaled up (``> 1``: run on a fraction, marked ``*``)."""
    import scipy.signal
    from sklearn.decomposition import PCA

    n = len(x)
    sub = max(2, n // 10)
    flat = x.reshape(n, -1)
    calls: dict[str, tuple[Callable[[], Any], float]] = {
        "pool max": (lambda: np.max(x, axis=(2, 3), keepdims=True), 1),
        "pool mean": (lambda: np.mean(x, axis=(2, 3), keepdims=True), 1),
        "pool median": (lambda: np.median(x, axis=(2, 3), keepdims=True), 1),
        "pool L1 (matrix)": (lambda: np.linalg.norm(x, 1, axis=(2, 3), keepdims=True), 1),
        "pool L2 (matrix)": (lambda: np.linalg.norm(x[:sub], 2, axis=(2, 3)), n / sub),
        "fe pca 50 (axis None)": (lambda: PCA(50).fit_transform(flat), 1),
        "fe pca 10 (row_col)": (lambda: [PCA(10).fit_transform(x[:, c].reshape(n, -1))
                                         for c in range(0, CHANNELS, 8)], 8),
        "fe pca 10 (chn)": (lambda: [PCA(10).fit_transform(x[:, :, r, c])
                                     for r in range(0, SIDE, 7) for c in range(SIDE)], 7),
        "fe hist 20 (axis None)": (lambda: [np.histogram(v, 20) for v in flat[:sub]], n / sub),
        "fe hist 10 (row_col)": (lambda: [np.histogram(v, 10) for v in
                                          x[:sub // 4].reshape(-1, SIDE * SIDE)], n / (sub // 4)),
        "fe hist 10 (chn)": (lambda: [np.histogram(v, 10) for v in
                                      x[:sub // 4].transpose(0, 2, 3, 1).reshape(-1, CHANNELS)],
                             n / (sub // 4)),
        "fe psd 50 (axis None)": (lambda: scipy.signal.periodogram(flat)[1][:, :50], 1),
        "fe psd 10 (row_col)": (lambda: [scipy.signal.periodogram(x[:, c].reshape(n, -1))[1]
                                         for c in range(CHANNELS)], 1),
        "fe psd 10 (chn)": (lambda: [scipy.signal.periodogram(x[:, :, r, c])[1]
                                     for r in range(SIDE) for c in range(SIDE)], 1),
    }
    return calls


def peer_time(calls: dict, case: str) -> float | None:
    if case not in calls:
        return None
    call, factor = calls[case]
    return measure(call)[0] * factor


# ----------------------------------------------------------------------------- sections


def layer_section(n: int, table: list[dict], workdir: Path) -> None:
    import xneuro.dnn as dnn

    header(f"1. one layer in memory: {n} x {CHANNELS} x {SIDE} x {SIDE} float32 "
           f"({n * CHANNELS * SIDE * SIDE * 4 / 1e6:.0f} MB)")
    layer = make_layer(n)
    calls = peer_calls(layer.values)

    def both(case: str, op: Callable[[], Any]) -> None:
        seconds, mb = measure(op)
        row(table, case, seconds, mb, peer_time(calls, case))

    for method in ("max", "mean", "median"):
        both(f"pool {method}", lambda m=method: dnn.pool(layer, m))
    for method in ("L1", "L2"):
        both(f"pool {method} (vector)", lambda m=method: dnn.pool(layer, m))
        both(f"pool {method} (matrix)", lambda m=method: dnn.pool(layer, m, norm="matrix"))
    for method, k in (("pca", 50), ("hist", 20), ("psd", 50)):
        both(f"fe {method} {k} (axis None)", lambda m=method, k=k: dnn.fe(layer, m, k))
    for axis in ("row_col", "chn"):
        for method, k in (("pca", 10), ("hist", 10), ("psd", 10)):
            both(f"fe {method} {k} ({axis})",
                 lambda m=method, k=k, a=axis: dnn.fe(layer, m, k, axis=a))
    onsets, durations, n_vol, tr = events_150()
    if n >= 150:
        events = layer.isel(stimulus=slice(0, 150))
        pooled = dnn.pool(events, "max")
        peer = measure(lambda: dnnbrain_convolve(pooled.values, onsets, durations, n_vol, tr,
                                                 100))[0]
        seconds, mb = measure(lambda: dnn.convolve_hrf(pooled, onsets, durations, n_vol, tr))
        row(table, "convolve_hrf pooled 256, 150 events, ops=100", seconds, mb, peer)
        units = events.values.reshape(150, -1)
        for ops in (10, 100):
            part = units[:, : units.shape[1] // 16]  # dnnbrain's on 1/16 of the units, x16
            peer = 16 * measure(lambda o=ops, p=part: dnnbrain_convolve(p, onsets, durations,
                                                                         n_vol, tr, o))[0]
            seconds, mb = measure(lambda o=ops: dnn.convolve_hrf(events, onsets, durations,
                                                                 n_vol, tr, o))
            row(table, f"convolve_hrf 50176 units, 150 events, ops={ops}", seconds, mb, peer)
    frames = dnn.pool(layer, "max")
    n_vol = int(np.ceil(n * 0.5 / 2.0)) + 10
    frame_onsets, frame_durations = 0.5 * np.arange(n) + 0.5, np.full(n, 0.5)
    peer = measure(lambda: dnnbrain_convolve(frames.values, frame_onsets, frame_durations,
                                             n_vol, 2.0, 100))[0]
    seconds, mb = measure(lambda: dnn.convolve_hrf(frames, frame_onsets, frame_durations,
                                                   n_vol, 2.0))
    row(table, f"convolve_hrf pooled 256, {n} frames, ops=100", seconds, mb, peer)
    act = dnn.Activation("conv5", layer)
    import h5py

    def h5_save() -> None:
        with h5py.File(workdir / "peer.act.h5", "w") as file:
            file.create_dataset("conv5", data=layer.values, compression="gzip")

    def h5_load() -> None:
        with h5py.File(workdir / "peer.act.h5", "r") as file:
            np.asarray(file["conv5"])

    h5 = workdir / "layer.act.h5"
    peer = measure(h5_save)[0]
    row(table, ".act.h5 save", *measure(lambda: act.save(h5)), peer)
    peer = measure(h5_load)[0]
    row(table, ".act.h5 load", *measure(lambda: dnn.Activation.load(h5).get("conv5").values), peer)
    store = workdir / "layer.zarr"
    seconds, mb = measure(lambda: act.save(store))
    row(table, "Zarr save (zstd)", seconds, mb, note=f"{_du(store):.0f} MB on disk vs .act.h5 "
        f"{h5.stat().st_size / 1e6:.0f} MB; compare with .act.h5 save")
    row(table, "Zarr load", *measure(lambda: dnn.Activation.load(store).get("conv5").values),
        note="compare with .act.h5 load")


def _du(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def sweep_section(sizes: list[int], table: list[dict]) -> None:
    import xneuro.dnn as dnn

    header("2. problem-size sweep (n stimuli x 256 x 14 x 14)")
    for n in sizes:
        layer = make_layer(n)
        row(table, f"n={n}: pool max", *measure(lambda la=layer: dnn.pool(la, "max")))
        row(table, f"n={n}: fe pca 50 (axis None)",
            *measure(lambda la=layer: dnn.fe(la, "pca", 50)))
        row(table, f"n={n}: convolve_hrf 50176 units, frames 0.5 s",
            *measure(lambda la=layer, n=n: dnn.convolve_hrf(
                la, 0.5 * np.arange(n), np.full(n, 0.5), int(n * 0.25) + 10, 2.0)))


def _dnnbrain_style(net: Any, images: np.ndarray, layers: list[str]) -> None:
    """dnnbrain's extraction: one pass over all stimuli per layer, batch 8, hook per layer."""
    import torch

    modules = dict(net.named_modules())
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    for name in layers:
        out: list[np.ndarray] = []
        handle = modules[name].register_forward_hook(
            lambda m, i, o, out=out: out.append(o.detach().clone().numpy()))
        with torch.no_grad():
            for start in range(0, len(images), 8):
                x = (torch.from_numpy(images[start:start + 8]).float() / 255 - mean) / std
                net(x)
        handle.remove()
        np.concatenate(out)


def extract_section(n: int, table: list[dict], workdir: Path) -> None:
    import xneuro
    import xneuro.dnn as dnn
    from xneuro.dnn.nets import small_alexnet

    header(f"3. extraction: small AlexNet-like CNN (width 32), {n} images of 64 x 64, "
           "4 layers (images/s in 'note')")
    net = small_alexnet(seed=0, width=32)
    images = xneuro.datasets.sample_images(max(1, n // 4), size=64).values[:n]
    layers = ["features.1", "features.4", "features.7", "features.9"]
    dnn.extract(net, images[:8], layers, batch_size=8)  # warm-up
    seconds, mb = measure(lambda: _dnnbrain_style(net, images, layers))
    peer = seconds
    row(table, "dnnbrain-style: a pass per layer, batch 8", seconds, mb,
        note=f"{n / seconds:.0f} images/s")
    seconds, mb = measure(lambda: dnn.extract(net, images, layers, batch_size=64))
    row(table, "xneuro.dnn.extract: one pass, batch 64, memory", seconds, mb, peer,
        note=f"{n / seconds:.0f} images/s")
    store = workdir / "extract.zarr"
    seconds, mb = measure(lambda: dnn.extract(net, images, layers, batch_size=64, store=store,
                                              fresh=True))
    row(table, "xneuro.dnn.extract: one pass, batch 64, to Zarr", seconds, mb, peer,
        note=f"{n / seconds:.0f} images/s")


# ----------------------------------------------------------------------------- big layer

CHILD_OPS = [
    "pool max", "pool mean", "pool median", "pool L1", "pool L2", "pool L2 (matrix)",
    "fe pca 50 (axis None)", "fe pca 10 (row_col)", "fe pca 10 (chn)",
    "fe hist 20 (axis None)", "fe hist 10 (row_col)", "fe hist 10 (chn)",
    "fe psd 50 (axis None)", "fe psd 10 (row_col)", "fe psd 10 (chn)",
    "convolve_hrf 50176 units, frames 0.1 s, TR 2", ".act.h5 save", ".act.h5 load",
    "Zarr save", "Zarr load", "extract to Zarr (small CNN, width 64, 112 px)",
]
QUICK_OPS = ["pool max", "fe hist 10 (row_col)", "convolve_hrf 50176 units, frames 0.1 s, TR 2",
             "Zarr load"]


def child(op: str, store: str, out: str) -> None:
    """Run one big-layer operation (in a child process) and print its JSON result."""
    import xarray as xr

    import xneuro.dnn as dnn

    start = time.perf_counter()
    act = dnn.open_activations(store)
    layer = act["conv5"]["activation"]
    n = layer.sizes["stimulus"]
    if op.startswith("noop"):  # the baseline: imports and one chunk read, no work
        import h5py  # noqa: F401
        import scipy.fft
        import scipy.linalg
        import scipy.stats  # noqa: F401

        if op == "noop torch":
            import torch  # noqa: F401
        layer.isel(stimulus=slice(0, 1)).values  # noqa: B018
        result = None
    elif op.startswith("pool"):
        method = op.split()[1]
        result = dnn.pool(layer, method, norm="matrix" if "matrix" in op else "vector")
    elif op.startswith("fe"):
        _, method, k, where = op.split(maxsplit=3)
        axis = None if "None" in where else where.strip("()")
        result = dnn.fe(layer, method, int(k), axis=axis)
    elif op.startswith("convolve"):
        result = dnn.convolve_hrf(layer, 0.1 * np.arange(n), np.full(n, 0.1),
                                  int(n * 0.05) + 10, 2.0)
    elif op == ".act.h5 save":
        dnn.write_act_h5(act, Path(out).with_suffix(".act.h5"))
        result = None
    elif op == ".act.h5 load":
        source = Path(store).with_name("big.act.h5")
        result = dnn.read_act_h5(source)["conv5"]["activation"]
    elif op == "Zarr save":
        dnn.save_activations(act, out, mode="w")
        result = None
    elif op == "Zarr load":
        result = layer
    else:  # extraction of a 256 x 14 x 14 layer into a store
        from xneuro.dnn.nets import small_alexnet

        n_img = int(os.environ.get("XNEURO_BENCH_EXTRACT_N", "2000"))  # 400 MB at 256x14x14
        rng = np.random.default_rng(0)
        images = (rng.random((n_img, 3, 112, 112)) * 255).astype(np.uint8)
        dnn.extract(small_alexnet(seed=0, width=64), images, ["features.9"], batch_size=50,
                    store=out, fresh=True)
        result = None
    if isinstance(result, xr.DataArray):
        if result.chunks is not None and result.nbytes > 64 * 2**20:
            result.rename("r").to_dataset().to_zarr(out, mode="w")
        else:
            result.values  # noqa: B018 - computes (and reads) the result
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": _kib("VmHWM") / 1024}))


def run_child(op: str, store: Path, out: Path, limit_mb: float) -> dict:
    import psutil

    command = [sys.executable, __file__, "--child", op, str(store), str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    peak, killed = 0.0, False
    while proc.poll() is None:
        try:
            rss = watched.memory_info().rss / 2**20
        except psutil.Error:
            break
        peak = max(peak, rss)
        if rss > limit_mb:
            proc.kill()
            killed = True
            break
        time.sleep(0.02)
    stdout, stderr = proc.communicate()
    if killed:
        return {"killed": True, "peak_mb": peak}
    if proc.returncode:
        return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else "failed"}
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_mb"] = max(result["peak_mb"], peak)
    return result


def write_big_store(path: Path, n: int, chunk: int) -> None:
    import dask.array as dsa
    import xarray as xr

    import xneuro

    base = np.random.default_rng(0).standard_normal((chunk, CHANNELS, SIDE, SIDE),
                                                    dtype=np.float32)

    def block(block_id: Any = None) -> np.ndarray:  # cheap to make: a shuffled, scaled base
        rng = np.random.default_rng(block_id[0])
        values = base[rng.permutation(chunk)] * rng.uniform(0.5, 2.0, (1, CHANNELS, 1, 1))
        return np.maximum(values + rng.standard_normal(dtype=np.float32), 0).astype(np.float32)

    data = dsa.map_blocks(block, chunks=((chunk,) * (n // chunk), (CHANNELS,), (SIDE,), (SIDE,)),
                          dtype=np.float32, meta=np.empty((0, 0, 0, 0), np.float32))
    layer = xr.DataArray(data, dims=("stimulus", "channel", "row", "column"))
    tree = xr.DataTree.from_dict({"/conv5": xr.Dataset({"activation": layer})})
    xneuro.save(tree, path, chunks={"stimulus": chunk}, mode="w")


def big_section(limit_mb: float, table: list[dict], workdir: Path, ops: list[str]) -> None:
    per_stimulus = CHANNELS * SIDE * SIDE * 4
    chunk = max(1, int(limit_mb * 2**20 / 25 / per_stimulus))  # a chunk is 1/25 of the limit
    n = int(limit_mb * 4 * 2**20 / per_stimulus) // chunk * chunk
    header(f"4. a layer 4x larger than the memory limit: {n} x {CHANNELS} x {SIDE} x {SIDE} "
           f"float32 = {n * per_stimulus / 2**20:.0f} MiB in Zarr (chunks of {chunk} stimuli); "
           f"limit {limit_mb:.0f} MiB of working memory")
    store = workdir / "big.zarr"
    start = time.perf_counter()
    write_big_store(store, n, chunk)
    base = run_child("noop", store, workdir / "out.zarr", 1e9)["peak_mb"]
    base_torch = run_child("noop torch", store, workdir / "out.zarr", 1e9)["peak_mb"]
    print(f"  (store written in {time.perf_counter() - start:.1f} s, {_du(store):.0f} MB on disk; "
          f"a child that imports xneuro, scipy, h5py and reads one chunk peaks at {base:.0f} MiB "
          f"RSS ({base_torch:.0f} with torch), so children are killed above that + "
          f"{limit_mb:.0f} MiB)")
    table.append({"case": "big: baseline RSS of a child", "peak_mb": round(base, 1),
                  "with_torch_mb": round(base_torch, 1), "n": n, "chunk": chunk})
    for op in ops:
        limit = (base_torch if op.startswith("extract") else base) + limit_mb
        if op == ".act.h5 load":
            produced = workdir / "out.act.h5"
            if produced.exists():
                produced.rename(workdir / "big.act.h5")
        result = run_child(op, store, workdir / "out.zarr", limit)
        shutil.rmtree(workdir / "out.zarr", ignore_errors=True)
        if "seconds" in result:
            working = result["peak_mb"] - (limit - limit_mb)
            row(table, f"big: {op}", result["seconds"], working,
                note=f"working memory {working:.0f} of {limit_mb:.0f} MiB "
                f"(whole-process peak {result['peak_mb']:.0f} MiB)")
        else:
            status = "killed at the limit" if result.get("killed") else result.get("error")
            table.append({"case": f"big: {op}", "status": status, "load": round(load(), 2)})
            print(f"  big: {op:<43} {status}")


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes (< 60 s)")
    parser.add_argument("--json", help="write the table as JSON to this file")
    parser.add_argument("--limit-mb", type=float, default=500.0,
                        help="working-memory limit of the big-layer case (MB of RSS above a "
                        "child's baseline); the layer is 4x this size")
    parser.add_argument("--skip-big", action="store_true", help="skip the big-layer case")
    parser.add_argument("--sections", default="1,2,3,4",
                        help="comma list of the sections to run (default: all)")
    parser.add_argument("--big-ops", help="semicolon list of the big-layer cases to run")
    parser.add_argument("--child", nargs=3, metavar=("OP", "STORE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    import dask

    print(f"bench_dnn: python {sys.version.split()[0]}, numpy {np.__version__}, dask "
          f"{dask.__version__}, {os.cpu_count()} CPUs; dnnbrain figures are recorded ones")
    table: list[dict] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-dnn-"))
    try:
        chosen = {part.strip() for part in args.sections.split(",")}
        if "1" in chosen:
            layer_section(200 if args.quick else 2000, table, workdir)
        if "2" in chosen:
            sweep_section([100, 200] if args.quick else [500, 1000, 2000, 4000], table)
        if "3" in chosen:
            extract_section(64 if args.quick else 512, table, workdir)
        if "4" in chosen and not args.skip_big:
            if args.quick:
                os.environ["XNEURO_BENCH_EXTRACT_N"] = "100"
            ops = QUICK_OPS if args.quick else CHILD_OPS
            if args.big_ops:
                ops = [op.strip() for op in args.big_ops.split(";")]
            big_section(64.0 if args.quick else args.limit_mb, table, workdir, ops)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
