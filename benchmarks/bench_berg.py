"""Benchmark BERG in-silico fMRI: xneuro.berg against the way BERG runs its models.

Work (random weights at the real widths, written by
``xneuro.berg.testing.make_miniature_berg`` into a temporary BERG directory;
sample images of 256 x 256 pixels, so both sides resize):

- ``fwRF V1``: fmri-nsd-fwrf, subject 1, V1 (1,350 voxels, one weight file).
- ``fwRF all``: the 23 ROIs of subject 1 (41,962 voxels, 25 weight files and backbones).
- ``CNN8 1 sub`` / ``CNN8 8 sub``: MOSAIC's CNN8 (384 channels; 48 with ``--quick``)
  and the 57,051-vertex readouts of 1 or 8 NSD subjects.

The peer ("BERG loop") is written out in this script as BERG runs these models:
one ROI model at a time, each loaded and run over the whole image set in
batches of 100 (fwRF: torchvision-style tensor resize, ``/255``, GNet backbone in
NCHW, ``Torch_LayerwiseFWRF``'s softmax / tensordot / bmm readout recomputed per
batch) or 32 (MOSAIC: PIL resize per image, ImageNet normalisation, the CNN8
core, then each subject's ``FullFactorized2d`` einsum readout with its spatial
normalisation). BERG itself (``pip install berg``) needs torchvision and
mosaic-dataset, and weights that cannot be downloaded here; its recorded figures
from the reference notes are printed for context (``recorded``: measured on
another 2-core machine).

xneuro: ``BERG(dir).get_encoding_model(...)`` then ``encode(model, images,
batch_size=b)``: channels-last backbone, readout as one GEMM per feature map
(fwRF) or one GEMM for all subjects (CNN8), chunked over outputs, numpy's
vectorised nonlinearities. Both sides use float32 and the same weights; the
script checks that their responses agree.

Every case runs in a fresh subprocess that loads both implementations once
(loading is not timed), then alternates them over 1 (``--quick``) or 3 rounds
and keeps each one's fastest round, so that load from other jobs falls on both.
Columns: images per wall-clock second, images per CPU-second (all threads;
steadier than wall time when other jobs share the CPUs), the peak memory of
the encode above the memory before it, and the 1-minute load average during
the kept round. ``--device cuda`` runs the same cases on a GPU and prints the
fraction of the FLOP-limited throughput of the reference notes.

Usage::

    python benchmarks/bench_berg.py --quick      # smallest sizes, < 60 s
    python benchmarks/bench_berg.py              # larger image sets, full-width CNN8 (minutes)
    python benchmarks/bench_berg.py --json berg.json
    python benchmarks/bench_berg.py --quick --threads 1   # on a shared machine: OpenMP's
                                                          # 2-thread barriers stall under load
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"
FWRF = "fmri-nsd-fwrf"
#: images/s on a 2-core CPU and FLOP-limited images/s on an H100 (reference notes, section 9)
RECORDED = {
    "fwRF V1": {"cpu": 7.5, "h100_fp32": 24_000, "h100_bf16": 400_000},
    "fwRF all": {"cpu": None, "h100_fp32": 880, "h100_bf16": 14_500},
    "CNN8 1 sub": {"cpu": None, "h100_fp32": 125, "h100_bf16": 2_060},
    "CNN8 8 sub": {"cpu": 1 / 26, "h100_fp32": 87, "h100_bf16": 1_440},
}


# ----------------------------------------------------------------------------- the peer


def _berg_fwrf_loop(berg_dir: str, rois: list[str], batch: int, device: str):
    """fmri-nsd-fwrf the way BERG runs it: one ROI (and split file) after the other."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from xneuro.berg.fwrf import layout
    from xneuro.berg.fwrf.network import Backbone, BackboneWidths
    from xneuro.berg.safe_load import load_checkpoint

    phi = lambda x: torch.log(1 + torch.abs(x)) * torch.tanh(x)

    def readout(fmaps, p):  # Torch_LayerwiseFWRF.forward
        pooled = []
        for k, fm in enumerate(fmaps):
            g = torch.softmax(torch.flatten(p[f"rf{k}"], start_dim=1), dim=1)
            pooled.append(torch.tensordot(g, phi(torch.flatten(fm, start_dim=2)),
                                          dims=[[1], [2]]))
        big = phi(torch.cat(pooled, dim=2))
        return torch.bmm(big, p["w"].unsqueeze(2)).squeeze(2).t() + p["b"].unsqueeze(0)

    models = []
    for roi in rois:
        for path in layout.weights_paths(berg_dir, 1, roi):
            ckpt = load_checkpoint(path)
            enc = ckpt["best_params"]["enc"]
            net = Backbone(BackboneWidths.from_state(enc))
            net.load_state_dict(enc)
            params = {k: v.contiguous().to(device) for k, v in
                      ckpt["best_params"]["fwrfs"][1].items()}
            models.append((net.to(device).eval(), params))

    def run(images):
        outputs = []
        for net, params in models:  # as BERG: model by model, the whole image set each
            x = torch.from_numpy(images.astype(np.int64)).float()
            x = torch.round(F.interpolate(x, size=(227, 227), mode="bilinear",
                                          align_corners=False, antialias=True))
            x = x.numpy().astype(np.float32) / 255
            pred = np.zeros((len(x), len(params["b"])), np.float32)
            with torch.no_grad():
                for start in range(0, len(x), batch):
                    xb = torch.from_numpy(x[start:start + batch]).to(device)
                    pred[start:start + batch] = readout(net(xb), params).cpu().numpy()
            outputs.append(pred)
        return np.concatenate(outputs, axis=1)

    return run


def _berg_mosaic_loop(berg_dir: str, subjects: list[int], batch: int, device: str):
    """The MOSAIC model the way BERG runs it: PIL transforms, core, per-subject einsum readouts."""
    import numpy as np
    import torch
    from PIL import Image

    from xneuro.berg.mosaic import layout
    from xneuro.berg.mosaic.network import CNN8Core
    from xneuro.berg.safe_load import load_checkpoint

    state = {k.removeprefix("module."): v for k, v in
             load_checkpoint(layout.weights_path(berg_dir)).items()}
    core_state = {k[5:]: v for k, v in state.items() if k.startswith("core.")}
    core = CNN8Core(core_state["block1.0.weight"].shape[0])
    core.load_state_dict(core_state)
    core = core.to(device).eval()
    heads = {}
    for s in subjects:
        prefix = f"subject_readouts.{layout.readout_name(s)}."
        heads[s] = {k: state[prefix + k].contiguous().to(device)
                    for k in ("spatial", "_features", "bias")}
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)

    def readout(x, head):  # FullFactorized2d.forward with normalize=True
        spatial = head["spatial"]
        norm = spatial.pow(2).sum(dim=1, keepdim=True).sum(dim=2, keepdim=True).sqrt()
        y = torch.einsum("ncwh,owh->nco", x, spatial / (norm.expand_as(spatial) + 1e-6))
        return torch.einsum("nco,oc->no", y, head["_features"]) + head["bias"]

    def run(images):
        tensors = []
        for image in images:  # HWC uint8 -> PIL -> Resize(224) -> ToTensor -> Normalize
            pil = Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)), mode="RGB")
            pil = pil.resize((224, 224), Image.Resampling.BILINEAR)
            t = torch.from_numpy(np.asarray(pil).transpose(2, 0, 1).copy()).float() / 255
            tensors.append((t - mean) / std)
        x = torch.stack(tensors)
        out = {s: [] for s in subjects}
        with torch.no_grad():
            for start in range(0, len(x), batch):
                features = core(x[start:start + batch].to(device))
                for s in subjects:
                    out[s].append(readout(features, heads[s]).cpu())
        return np.stack([torch.cat(out[s]).numpy() for s in subjects], axis=1)

    return run


# ----------------------------------------------------------------------------- one case


def _status(field: str) -> int:
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _load(spec: dict, impl: str, precision: str):
    """A function images -> responses for one implementation (the model loaded once)."""
    from xneuro.berg import BERG

    device = spec["device"]
    if impl == "BERG loop":
        if spec["model"] == FWRF:
            return _berg_fwrf_loop(spec["berg_dir"], spec["rois"], spec["peer_batch"], device)
        return _berg_mosaic_loop(spec["berg_dir"], spec["subjects"], spec["peer_batch"], device)
    berg = BERG(spec["berg_dir"])
    if spec["model"] == FWRF:
        model = berg.get_encoding_model(FWRF, 1, {"roi": spec["rois"]}, device=device,
                                        precision=precision)
    else:
        model = berg.get_encoding_model(MOSAIC, spec["subjects"], device=device,
                                        precision=precision)
    return lambda images, batch: berg.encode(model, images, batch_size=batch).values


def _measure(run, images, device: str) -> dict:
    import torch

    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter
    before = _status("VmRSS")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    out = run(images)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return {
        "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
        "load": load, "peak_mb": (_status("VmHWM") - before) / 2**20,
        "gpu_peak_mb": (torch.cuda.max_memory_allocated() / 2**20
                        if device.startswith("cuda") else None),
        "out": out,
    }


def _run_case(spec: dict) -> list[dict]:
    """One case in a fresh process: load each implementation once, then alternate rounds.

    Each row keeps the fastest round (wall and CPU separately) and the largest
    memory peak; alternating the implementations spreads load from other jobs
    over both.
    """
    import numpy as np
    import torch

    import xneuro

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    images = xneuro.datasets.sample_images(-(-spec["n_images"] // 4), size=256, seed=1)
    images = images.values[: spec["n_images"]]
    variants = [("BERG loop", "float32", spec["peer_batch"])]
    variants += [("xneuro", p, b) for p in spec["precisions"] for b in spec["batches"]]
    runs = {}
    for impl, precision, batch in variants:
        if (impl, precision) not in runs:
            runs[(impl, precision)] = _load(spec, impl, precision)
        fn = runs[(impl, precision)]
        runs[(impl, precision, batch)] = (lambda x, fn=fn: fn(x)) if impl == "BERG loop" \
            else (lambda x, fn=fn, batch=batch: fn(x, batch))
        if spec["device"].startswith("cuda"):
            runs[(impl, precision, batch)](images[:2])  # CUDA context, cuDNN's choice
    rows = {v: [] for v in variants}
    for _ in range(spec["rounds"]):
        for variant in variants:
            rows[variant].append(_measure(runs[variant], images, spec["device"]))
    out = []
    for (impl, precision, batch), results in rows.items():
        best = min(results, key=lambda r: r["seconds"])
        np.save(f"{spec['save']}-{len(out)}.npy",
                np.asarray(best["out"], np.float32).reshape(len(images), -1)[:, :4096])
        out.append({
            "impl": impl, "precision": precision, "batch": batch,
            "seconds": best["seconds"], "load": best["load"],
            "cpu_seconds": min(r["cpu_seconds"] for r in results),
            "peak_mb": max(r["peak_mb"] for r in results),
            "gpu_peak_mb": best["gpu_peak_mb"], "out": f"{spec['save']}-{len(out)}.npy",
        })
    return out


def _subprocess(spec: dict) -> list[dict]:
    out = subprocess.run([sys.executable, __file__, "--run-case", json.dumps(spec)],
                         capture_output=True, text=True)
    if out.returncode:
        return [{"error": (out.stderr or out.stdout).strip().splitlines()[-1][:200]}]
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- driver


def _cases(quick: bool, device: str) -> list[dict]:
    """Per case: the BERG loop, xneuro over batch sizes (and in bfloat16 beyond --quick)."""
    from xneuro.berg.fwrf.layout import ROIS

    if device.startswith("cuda"):
        sizes = {"V1": (2048, [128, 512, 1024]), "all": (512, [64, 256]),
                 "cnn8": (256, [32, 64, 128])}
    elif quick:
        sizes = {"V1": (8, [8]), "all": (2, [2]), "cnn8": (1, [1])}
    else:
        sizes = {"V1": (64, [8, 32, 64]), "all": (8, [4, 8]), "cnn8": (2, [2])}
    specs = [
        ("fwRF V1", "V1", {"model": FWRF, "rois": ["V1"]}, 100),
        ("fwRF all", "all", {"model": FWRF, "rois": list(ROIS)}, 100),
        ("CNN8 1 sub", "cnn8", {"model": MOSAIC, "subjects": [1]}, 32),
        ("CNN8 8 sub", "cnn8", {"model": MOSAIC, "subjects": list(range(1, 9))}, 32),
    ]
    return [
        {"case": name, **model, "n_images": sizes[key][0], "batches": sizes[key][1],
         "peer_batch": peer_batch, "rounds": 1 if quick else 3,
         "precisions": ["float32"] if quick else ["float32", "bfloat16"]}
        for name, key, model, peer_batch in specs
    ]


def _make_dir(root: Path, quick: bool) -> Path:
    from xneuro.berg.fwrf.layout import ROIS
    from xneuro.berg.testing import make_miniature_berg

    return make_miniature_berg(root / "berg", fwrf_rois={1: ROIS},
                               fwrf_full_width=[(1, r) for r in ROIS], mosaic_subjects=(1,),
                               mosaic_channels=48 if quick else 384)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes (< 60 s)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_case:
        print(json.dumps(_run_case(json.loads(args.run_case))))
        return 0
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-berg-") as tmp:
        berg_dir = _make_dir(Path(tmp), args.quick)
        print(f"BERG directory with full-width fwRF backbones (23 ROIs of subject 1) and a CNN8 "
              f"of {48 if args.quick else 384} channels written in "
              f"{time.perf_counter() - started:.1f} s; device {args.device}, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print(HEADER)
        for k, case in enumerate(_cases(args.quick, args.device)):
            spec = {"berg_dir": str(berg_dir), "device": args.device, "threads": args.threads,
                    **case, "save": str(Path(tmp) / f"out{k}")}
            for result in _subprocess(spec):
                rows.append({**case, **result, "device": args.device})
                _print_row(rows[-1])
        _check_agreement(rows)
    _summary(rows, args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


HEADER = (f"\n{'case':<11} {'impl':<10} {'precision':<9} {'batch':>5} {'images':>6} "
          f"{'img/s':>8} {'img/cpu-s':>9} {'peak MB':>8} {'load':>5}")


def _print_row(row: dict) -> None:
    if "error" in row:
        print(f"{row['case']:<11} {row['impl']:<10} failed: {row['error']}")
        return
    n = row["n_images"]
    print(f"{row['case']:<11} {row['impl']:<10} {row['precision']:<9} "
          f"{row['batch']:>5} {n:>6} {n / row['seconds']:>8.2f} {n / row['cpu_seconds']:>9.2f} "
          f"{row['peak_mb']:>8.0f} {row['load']:>5.1f}")


def _check_agreement(rows: list[dict]) -> None:
    import numpy as np

    for case in dict.fromkeys(r["case"] for r in rows):
        outs = [np.load(r["out"]) for r in rows if r["case"] == case and "error" not in r
                and r["precision"] == "float32"]
        if len(outs) > 1:
            worst = max(float(np.abs(o - outs[0]).max() / np.abs(outs[0]).max()) for o in outs)
            print(f"{case}: float32 responses of all rows agree within {worst:.1e} (relative)")


def _summary(rows: list[dict], quick: bool) -> None:
    print("\nspeed-up of xneuro's best batch size over the BERG loop (wall / CPU time):")
    for case in dict.fromkeys(r["case"] for r in rows):
        peer = [r for r in rows if r["case"] == case and r["impl"] == "BERG loop"
                and "error" not in r]
        ours = [r for r in rows if r["case"] == case and r["impl"] == "xneuro"
                and "error" not in r and r["precision"] == "float32"]
        if not (peer and ours):
            continue
        best = min(ours, key=lambda r: r["seconds"])
        best_cpu = min(ours, key=lambda r: r["cpu_seconds"])
        recorded = RECORDED[case]["cpu"]
        note = f"; recorded BERG on a 2-core CPU: {recorded:.2f} img/s" if recorded else ""
        print(f"  {case:<11} {peer[0]['seconds'] / best['seconds']:.2f}x wall, "
              f"{peer[0]['cpu_seconds'] / best_cpu['cpu_seconds']:.2f}x CPU{note}")
    gpu = [r for r in rows if r["device"].startswith("cuda") and r["impl"] == "xneuro"
           and "error" not in r]
    if gpu:
        print("\nGPU: best images/s against the FLOP-limited rate of an H100 (reference notes):")
    for case in dict.fromkeys(r["case"] for r in gpu):
        for precision in ("float32", "bfloat16"):
            mine = [r for r in gpu if r["case"] == case and r["precision"] == precision]
            if mine:
                best = max(r["n_images"] / r["seconds"] for r in mine)
                limit = RECORDED[case]["h100_fp32" if precision == "float32" else "h100_bf16"]
                print(f"  {case:<11} {precision:<9} {best:>9.0f} img/s = {best / limit:.0%} of "
                      f"{limit} img/s")
    if quick:
        print("(--quick: CNN8 core of 48 channels instead of 384, few images)")


if __name__ == "__main__":
    sys.exit(main())
