"""Benchmark BERG in-silico fMRI: xneuro.berg against the way BERG runs its models.

Work (random weights at the real widths, written by
``xneuro.berg.testing.make_miniature_berg`` into a temporary BERG directory;
sample images of 256 x 256 pixels, so both sides resize):

- ``fwRF V1``: fmri-nsd-fwrf, subject 1, V1 (1,350 voxels, one weight file).
- ``fwRF all``: the 23 ROIs of subject 1 (41,962 voxels, 25 weight files and backbones).
- ``CNN8 1 sub`` / ``CNN8 8 sub``: MOSAIC's CNN8 (384 channels; 48 at ``--size
  small``) and the 57,051-vertex readouts of 1 or 8 NSD subjects.

The peer ("BERG loop") is written out in this script as BERG runs these models:
one ROI model at a time, each loaded and run over the whole image set in
batches of 100 (fwRF: torchvision-style tensor resize, ``/255``, GNet backbone in
NCHW, ``Torch_LayerwiseFWRF``'s softmax / tensordot / bmm readout recomputed per
batch) or 32 (MOSAIC: PIL resize per image, ImageNet normalisation, the CNN8
core, then each subject's ``FullFactorized2d`` einsum readout with its spatial
normalisation). BERG itself (``pip install berg``) needs torchvision and
mosaic-dataset, and weights that cannot be downloaded here; the figures of the
reference notes are added as ``recorded`` rows (another 2-core machine).

xneuro: ``BERG(dir).get_encoding_model(..., precision=p)`` then ``encode(model,
images, batch_size=b)``: channels-last backbone, readout as one GEMM per feature
map (fwRF) or one GEMM for all subjects (CNN8), chunked over outputs. Both
sides use the same weights; the script checks that their float32 responses
agree. With ``--workers N`` (a LocalCluster started inside the case) or
``--scheduler ADDRESS``, xneuro also encodes a dask array of the images, one
task per batch, each worker loading the model once (``xneuro (dask)`` rows).

Every case runs in a fresh subprocess that loads every implementation once
(loading is not timed), then alternates them over 1 (small) or ``--repeat``
(default 3) rounds and keeps each one's fastest round, so that load from
other jobs falls on all of them.

Sizes (images per case; xneuro batch sizes)
-------------------------------------------
======  ==============================  ==============================================
size    CPU                             CUDA
======  ==============================  ==============================================
small   V1 8 (8); all 1 (1); CNN8 1     V1 256 (128); all 64 (64); CNN8 32 (32)
        (1), 48-channel core; float32   float32 and bfloat16
medium  V1 64 (8, 32, 64); all 8 (4,    V1 2048 (128, 512, 1024); all 512 (64, 256);
        8); CNN8 2 (2); float32 and     CNN8 256 (32, 64, 128)
        bfloat16 (10-15 min)
large   V1 256 (8, 32, 64, 128); all    V1 8192 (256, 1024); all 2048 (128, 512);
        32 (8, 16, 32); CNN8 8 (2, 4,   CNN8 1024 (64, 128, 256)
        8)
======  ==============================  ==============================================

Columns: images per second (``throughput``); ``hw_fraction`` = FLOPs per image
(counted from the model's layer shapes: conv and readout multiply-adds; for the
full-width models these equal the reference notes' 2.47, 68, 481 and 689 GFLOP)
times images/s over :func:`~xneuro.bench.harness.gemm_peak_flops` on the CPU
(the larger of the ceilings measured before and after the cases), or over an
H100's nominal 60 TFLOP/s fp32 / 990 TFLOP/s bf16 on ``cuda`` (the issue's
target there: within 2x, i.e. >= 50%); none for bfloat16 on the CPU. Notes
give images per CPU-second (steadier than wall time on a shared machine) and
the batch size. Rows named ``xneuro`` at a case's plain size are xneuro's best
batch size; the others carry their batch in the size.

Usage::

    python benchmarks/bench_berg.py --size small      # < 60 s
    python benchmarks/bench_berg.py --json berg.json  # medium
    python benchmarks/bench_berg.py --size small --threads 1   # on a busy machine: OpenMP's
                                                               # 2-thread barriers stall
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

from xneuro.bench.harness import (
    KernelPeakRSS,
    Result,
    add_arguments,
    finish,
    gemm_peak_flops,
    require_device,
)

BENCH = "berg"
UNIT = "images/s"
MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"
FWRF = "fmri-nsd-fwrf"
#: Nominal H100 FLOP/s (reference notes, section 9).
GPU_PEAK = {"float32": 60e12, "bfloat16": 990e12}
#: images/s of BERG on a 2-core CPU (reference notes, section 9: fwRF V1 at batch 32;
#: CNN8 at batch 1, 26 s per image for all 8 subjects).
RECORDED_CPU = {"fwRF V1": (7.5, "batch 32: backbone 1.73 s + readout 2.53 s"),
                "CNN8 8 sub": (1 / 26, "batch 1: core 8.5 s + 8 x 2.2 s readouts")}
#: Vertices of each MOSAIC subject's readout.
VERTICES = 57_051


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


# ----------------------------------------------------------------------------- FLOPs


def _conv_flops(c_out: int, c_in: int, k: int, side: int) -> float:
    return 2.0 * c_out * c_in * k * k * side * side


def fwrf_flops(voxels: int, backbones: int) -> float:
    """FLOPs per image of fwRF: GNet backbones (227 px) plus the per-voxel readouts."""
    backbone = (_conv_flops(64, 3, 11, 56) + _conv_flops(192, 64, 5, 27)
                + _conv_flops(128, 192, 3, 25) + 2 * _conv_flops(128, 128, 3, 25)
                + 3 * _conv_flops(128, 128, 3, 13) + _conv_flops(64, 128, 3, 13))
    per_voxel = 2.0 * 256 * (27 * 27 + 25 * 25 + 13 * 13) + 2.0 * 768
    return backbones * backbone + voxels * per_voxel


def cnn8_flops(channels: int, subjects: int) -> float:
    """FLOPs per image of MOSAIC CNN8 (224 px) plus ``subjects`` 57,051-vertex readouts."""
    c = channels
    core = (_conv_flops(c, 3, 5, 222) + _conv_flops(c, c, 5, 222)
            + 2 * _conv_flops(c, c, 3, 111) + 2 * _conv_flops(c, c, 3, 55)
            + 2 * _conv_flops(c, c, 3, 27))
    readout = 2.0 * c * 26 * 26 * VERTICES + 2.0 * c * VERTICES
    return core + subjects * readout


# ----------------------------------------------------------------------------- one case


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
    if impl == "xneuro (dask)":
        import dask.array as da

        return lambda images, batch: berg.encode(
            model, da.from_array(images, chunks=(batch, -1, -1, -1)), batch_size=batch
        ).values
    return lambda images, batch: berg.encode(model, images, batch_size=batch).values


def _measure(run, images, device: str) -> dict:
    import torch

    with KernelPeakRSS() as rss:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        load = os.getloadavg()[0]
        cpu, wall = time.process_time(), time.perf_counter()
        out = run(images)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "seconds": seconds, "cpu_seconds": cpu_seconds,
        "load": load, "peak_mb": rss.megabytes,
        "gpu_peak_mb": (torch.cuda.max_memory_allocated() / 2**20
                        if device.startswith("cuda") else None),
        "out": out,
    }


def _cluster(spec: dict):
    """The Dask client of the case (``None`` without ``--workers``/``--scheduler``)."""
    if spec.get("scheduler"):
        from distributed import Client

        return Client(spec["scheduler"])
    if spec.get("workers"):
        import xneuro

        threads = max(1, (os.cpu_count() or 1) // spec["workers"])
        resources = {"GPU": 1} if spec["device"].startswith("cuda") else None
        return xneuro.cluster(n_workers=spec["workers"], threads_per_worker=threads,
                              resources=resources, dashboard_address=None)
    return contextlib.nullcontext(None)


def _run_case(spec: dict) -> list[dict]:
    """One case in a fresh process: load each implementation once, then alternate rounds.

    Each row keeps the fastest round (wall and CPU separately) and the largest
    memory peak; alternating the implementations spreads load from other jobs
    over all of them.
    """
    import numpy as np
    import torch

    import xneuro

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    images = xneuro.datasets.sample_images(-(-spec["n_images"] // 4), size=256, seed=1)
    images = images.values[: spec["n_images"]]
    with _cluster(spec) as client:
        variants = [("BERG loop", "float32", spec["peer_batch"])]
        variants += [("xneuro", p, b) for p in spec["precisions"] for b in spec["batches"]]
        if client is not None:
            variants += [("xneuro (dask)", "float32", max(spec["batches"]))]
        runs = {}
        for impl, precision, batch in variants:
            if (impl, precision) not in runs:
                runs[(impl, precision)] = _load(spec, impl, precision)
            fn = runs[(impl, precision)]
            runs[(impl, precision, batch)] = (lambda x, fn=fn: fn(x)) if impl == "BERG loop" \
                else (lambda x, fn=fn, batch=batch: fn(x, batch))
            if impl == "xneuro (dask)":
                runs[(impl, precision, batch)](images)  # every worker loads the model
            elif spec["device"].startswith("cuda"):
                runs[(impl, precision, batch)](images[:2])  # CUDA context, cuDNN's choice
        rows = {v: [] for v in variants}
        for _ in range(spec["rounds"]):
            for variant in variants:
                rows[variant].append(_measure(runs[variant], images, spec["device"]))
        workers = len(client.scheduler_info()["workers"]) if client is not None else 0
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
            "workers": workers if impl == "xneuro (dask)" else 0,
        })
    return out


def _subprocess(spec: dict) -> list[dict]:
    out = subprocess.run([sys.executable, __file__, "--run-case", json.dumps(spec)],
                         capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode or not lines:
        return [{"error": ((out.stderr or out.stdout).strip().splitlines() or ["failed"])[-1]
                 [:200]}]
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- driver

#: (images, xneuro batch sizes) per size, device and case group
SIZES = {
    ("small", "cpu"): {"V1": (8, [8]), "all": (1, [1]), "cnn8": (1, [1])},
    ("medium", "cpu"): {"V1": (64, [8, 32, 64]), "all": (8, [4, 8]), "cnn8": (2, [2])},
    ("large", "cpu"): {"V1": (256, [8, 32, 64, 128]), "all": (32, [8, 16, 32]),
                       "cnn8": (8, [2, 4, 8])},
    ("small", "cuda"): {"V1": (256, [128]), "all": (64, [64]), "cnn8": (32, [32])},
    ("medium", "cuda"): {"V1": (2048, [128, 512, 1024]), "all": (512, [64, 256]),
                         "cnn8": (256, [32, 64, 128])},
    ("large", "cuda"): {"V1": (8192, [256, 1024]), "all": (2048, [128, 512]),
                        "cnn8": (1024, [64, 128, 256])},
}


def channels(size: str) -> int:
    """CNN8 core width: 48 at ``small`` on the CPU, else BERG's 384."""
    return 48 if size == "small" else 384


def _cases(size: str, device: str, rounds: int = 3) -> list[dict]:
    """Per case: the BERG loop, xneuro over batch sizes and precisions (``rounds`` each)."""
    from xneuro.berg.fwrf.layout import ROIS

    sizes = SIZES[(size, device)]
    small_cpu = size == "small" and device == "cpu"
    precisions = ["float32"] if small_cpu else ["float32", "bfloat16"]
    cnn8 = channels(size) if device == "cpu" else 384
    voxels = 41_962
    specs = [
        ("fwRF V1", "V1", {"model": FWRF, "rois": ["V1"]}, 100, fwrf_flops(1350, 1)),
        ("fwRF all", "all", {"model": FWRF, "rois": list(ROIS)}, 100, fwrf_flops(voxels, 25)),
        ("CNN8 1 sub", "cnn8", {"model": MOSAIC, "subjects": [1]}, 32, cnn8_flops(cnn8, 1)),
        ("CNN8 8 sub", "cnn8", {"model": MOSAIC, "subjects": list(range(1, 9))}, 32,
         cnn8_flops(cnn8, 8)),
    ]
    return [
        {"case": name, **model, "n_images": sizes[key][0], "batches": sizes[key][1],
         "peer_batch": peer_batch, "rounds": 1 if size == "small" else max(1, rounds),
         "precisions": precisions, "flops": flops}
        for name, key, model, peer_batch, flops in specs
    ]


def _make_dir(root: Path, size: str) -> Path:
    from xneuro.berg.fwrf.layout import ROIS
    from xneuro.berg.testing import make_miniature_berg

    return make_miniature_berg(root / "berg", fwrf_rois={1: ROIS},
                               fwrf_full_width=[(1, r) for r in ROIS], mosaic_subjects=(1,),
                               mosaic_channels=channels(size))


def _rows(case: dict, results: list[dict], args: argparse.Namespace, peak: float) -> list[Result]:
    """Result rows of one case: the loop, xneuro's best batch per precision, the others."""
    n = case["n_images"]
    plain = f"{n} images"
    rows = []
    ok = [r for r in results if "error" not in r]
    best = {}
    for r in ok:
        if r["impl"] == "xneuro":
            key = r["precision"]
            if key not in best or r["seconds"] < best[key]["seconds"]:
                best[key] = r
    for r in results:
        if "error" in r:
            rows.append(Result(BENCH, case["case"], plain, "?", float("nan"), device=args.device,
                               note=f"failed: {r['error']}"))
            continue
        who = "BERG loop" if r["impl"] == "BERG loop" else r["impl"]
        name = case["case"] + (" bf16" if r["precision"] == "bfloat16" else "")
        size = plain if r["impl"] == "BERG loop" or best.get(r["precision"]) is r \
            else f"{plain}, batch {r['batch']}"
        if r["workers"]:
            size = f"{plain} on {r['workers']} workers"
        # no bfloat16 ceiling is measured on the CPU (the sgemm ceiling is float32)
        ceiling = GPU_PEAK[r["precision"]] if args.device == "cuda" else \
            (peak if r["precision"] == "float32" else None)
        rows.append(Result(
            BENCH, name, size, who, r["seconds"], throughput=n / r["seconds"], unit=UNIT,
            peak_host_mb=r["peak_mb"], peak_gpu_mb=r["gpu_peak_mb"],
            hw_fraction=case["flops"] * n / r["seconds"] / ceiling if ceiling else None,
            device=args.device,
            workers=r["workers"], load=r["load"], repeats=case["rounds"],
            note=f"batch {r['batch']}, {n / r['cpu_seconds']:.3g} images/CPU-s"
                 + (f", {r['precision']}" if r["precision"] != "float32" else "")
                 + (", best of {}".format(", ".join(map(str, case["batches"])))
                    if size == plain and r["impl"] == "xneuro" else "")
                 + ("; workers' memory not sampled" if r["workers"] else "")))
    recorded = RECORDED_CPU.get(case["case"])
    if recorded and args.device == "cpu" and (case["model"] == FWRF or channels(args.size) == 384):
        rate, note = recorded
        rows.append(Result(BENCH, case["case"], plain, "BERG", n / rate, source="recorded",
                           throughput=rate, unit=UNIT,
                           note=f"{rate:.3g} images/s on another 2-core CPU, {note}"))
    return rows


def _check_agreement(case: str, results: list[dict]) -> None:
    import numpy as np

    outs = [np.load(r["out"]) for r in results if "error" not in r
            and r["precision"] == "float32"]
    if len(outs) > 1:
        worst = max(float(np.abs(o - outs[0]).max() / np.abs(outs[0]).max()) for o in outs)
        print(f"  {case}: float32 responses of all rows agree within {worst:.1e} (relative)")


def _rescale_ceiling(results: list[Result], first: float, last: float) -> None:
    """Measure ``hw_fraction`` against the larger of the two sgemm ceilings.

    Other jobs on the machine lower a ceiling measured while they run; the
    larger of the measurements before and after the cases is the closer one.
    """
    ceiling = max(first, last)
    print(f"CPU sgemm ceiling: {first / 1e9:.0f} GFLOP/s before, {last / 1e9:.0f} after; "
          f"hw_fraction uses {ceiling / 1e9:.0f}")
    for row in results:
        if row.hw_fraction is not None:
            row.hw_fraction *= first / ceiling


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--case", action="append", default=None,
                        help="run only this case (repeatable): 'fwRF V1', 'fwRF all', "
                             "'CNN8 1 sub', 'CNN8 8 sub'")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_case:
        print(json.dumps(_run_case(json.loads(args.run_case))))
        return 0
    reason = require_device(args.device)
    if reason is None and args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            reason = "torch sees no CUDA GPU; skipping --device cuda"
    if reason:
        print(reason)
        return 0
    started = time.perf_counter()
    peak = gemm_peak_flops() if args.device == "cpu" else GPU_PEAK["float32"]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-berg-") as tmp:
        berg_dir = _make_dir(Path(tmp), args.size)
        print(f"BERG directory with full-width fwRF backbones (23 ROIs of subject 1) and a CNN8 "
              f"of {channels(args.size)} channels written in "
              f"{time.perf_counter() - started:.1f} s; device {args.device}, "
              f"{os.cpu_count()} CPUs, CPU sgemm {peak / 1e9:.0f} GFLOP/s, "
              f"load {'/'.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
        for k, case in enumerate(_cases(args.size, args.device, args.repeat)):
            if args.case and case["case"] not in args.case:
                continue
            spec = {"berg_dir": str(berg_dir), "device": args.device, "threads": args.threads,
                    "workers": args.workers, "scheduler": args.scheduler,
                    **case, "save": str(Path(tmp) / f"out{k}")}
            out = _subprocess(spec)
            for row in _rows(case, out, args, peak):
                results.append(row)
                print(f"  {row.case:<14} {row.who:<16} {row.size:<26} {row.seconds:8.2f} s "
                      f"{row.throughput or float('nan'):9.3g} img/s  load "
                      f"{row.load if row.load is not None else float('nan'):.1f}  {row.note}",
                      flush=True)
            _check_agreement(case["case"], out)
    if args.device == "cpu":
        _rescale_ceiling(results, peak, gemm_peak_flops())
    print(f"total {time.perf_counter() - started:.0f} s\n")
    if args.size == "small" and args.device == "cpu":
        print("(small: CNN8 core of 48 channels instead of 384, few images)")
    return finish(results, args, f"BERG in-silico fMRI ({args.size}, {args.device})")


if __name__ == "__main__":
    sys.exit(main())
