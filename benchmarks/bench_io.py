"""Benchmark xneuro.io against a plain nibabel + numpy load: time and peak memory.

Files (generated in a temporary folder, float32 BOLD-like values):

- NIfTI: voxels (a near-cubic volume) x volumes, uncompressed and gzip;
- CIFTI-2 dense series: 91,282 grayordinates (the HCP 91k count: 29,696 +
  29,716 cortical vertices, 31,870 subcortical voxels) x volumes.

Sizes: ``small`` 25k voxels x 100 volumes and a quarter-size CIFTI (< 60 s on
2 cores); ``medium`` 100k voxels (50 x 50 x 40) x 300 volumes, the 91k CIFTI x
300, and a sweep of the temporal mean over 25k x 300, 200k x 300 and 100k x
1200; ``large`` 1M voxels x 300 volumes (10x medium; 1.2 GB uncompressed),
the 91k CIFTI x 1200 (an HCP run) and a sweep over 250k x 300 and 2M x 300.

Operations, each run in a fresh subprocess so that peak memory is its own
(peak RSS above the RSS after imports and set-up, via ``/proc``); the
subprocess first warms up on a tiny file of the same format (imports, thread
pools), then makes one warm-up call on the real file (``first``, and the peak
memory) and ``--repeat`` timed calls (``seconds`` is their median):

- ``mean``: temporal mean of every voxel. xneuro:
  ``load_bold(path).mean("time", skipna=False)`` (lazy, voxel chunks, dask
  threads; ``skipna=False`` does numpy's work, xarray's default NaN-skipping
  mean costs about twice as much); nibabel: ``get_fdata(dtype=float32).mean``
  (on a memory map for uncompressed files).
- ``load``: the whole run in memory. xneuro: ``load_bold(path, chunks=-1).values``
  (one read; dask's compute still copies the block into its result, so the
  peak is about twice the run); nibabel: ``nibabel.load(path, mmap=False)
  .get_fdata(dtype=float32)`` (with the default memory map nothing would be
  read yet).
- ``write``: an in-memory run to a file. xneuro: ``to_nifti``/``to_cifti`` of
  the labeled array; nibabel: ``nibabel.save`` of a ``Nifti1Image``/``Cifti2Image``.
- ``copy`` (xneuro only): ``to_nifti(load_bold(path))``, file to file without
  holding the run in memory.

Throughput is the file's size over the time, in MB/s (10^6 bytes). File I/O
has no GPU path: ``--device cuda`` prints that and exits. The Dask work runs
on the threaded scheduler inside each case's process; ``--workers`` and
``--scheduler`` are not used (the rows say ``workers 0``).

Usage::

    python benchmarks/bench_io.py --size small
    python benchmarks/bench_io.py --size medium --json io.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
CIFTI_91K = (29_696, 29_716, 31_870)
PEER_OPS = ("mean", "load", "write")
KINDS = {".nii": "NIfTI", ".nii.gz": "NIfTI gz", ".dtseries.nii": "CIFTI dtseries"}


# ----------------------------------------------------------------------------- files


def _volume_shape(n_voxel: int) -> tuple[int, int, int]:
    side = round((n_voxel / 0.8) ** (1 / 3))
    k = max(1, round(n_voxel / (side * side)))
    return side, side, k


def _bold_values(n_time: int, n_unit: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(500, 1500, n_unit).astype(np.float32)
    signal = np.sin(np.linspace(0, 20, n_time, dtype=np.float32))[:, None]
    return base + 5 * signal + rng.standard_normal((n_time, n_unit), dtype=np.float32)


def make_nifti(folder: Path, n_voxel: int, n_time: int, gz: bool) -> Path:
    """A 4-D float32 NIfTI of about ``n_voxel`` voxels x ``n_time`` volumes."""
    import nibabel as nib

    shape = _volume_shape(n_voxel)
    values = _bold_values(n_time, int(np.prod(shape)))
    volume = values.T.reshape((*shape, n_time), order="F")
    img = nib.Nifti1Image(volume, np.diag([2.0, 2.0, 2.0, 1.0]))
    img.header.set_zooms((2.0, 2.0, 2.0, 1.5))
    img.header.set_xyzt_units("mm", "sec")
    path = folder / f"bold_{int(np.prod(shape))}x{n_time}.nii{'.gz' if gz else ''}"
    nib.save(img, path)
    return path


def _brain_models(scale: float = 1.0) -> Any:
    import nibabel as nib

    ax = nib.cifti2.cifti2_axes
    left, right, sub = (max(1, int(n * scale)) for n in CIFTI_91K)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    axis = (ax.BrainModelAxis.from_mask(np.arange(32_492) < left, name="CortexLeft")
            + ax.BrainModelAxis.from_mask(np.arange(32_492) < right, name="CortexRight"))
    volume = np.zeros((91, 109, 91), bool)
    volume.ravel()[:: max(1, volume.size // sub)][:sub] = True
    return axis + ax.BrainModelAxis.from_mask(volume, name="thalamus_left", affine=affine)


def make_cifti(folder: Path, n_time: int, scale: float = 1.0) -> Path:
    """A CIFTI-2 dense series of ``scale`` x 91,282 grayordinates x ``n_time`` frames."""
    import nibabel as nib

    axis = _brain_models(scale)
    series = nib.cifti2.cifti2_axes.SeriesAxis(0.0, 0.72, n_time)
    img = nib.Cifti2Image(_bold_values(n_time, len(axis)), header=(series, axis))
    img.nifti_header.set_intent("ConnDenseSeries")
    path = folder / f"bold_{len(axis)}x{n_time}.dtseries.nii"
    nib.save(img, path)
    return path


# ----------------------------------------------------------------------------- workers


def _operation(case: str, path: str, folder: str) -> Any:
    """The call that ``case`` times, with its set-up done (not timed)."""
    import nibabel as nib

    is_cifti = path.endswith(".dtseries.nii")
    out = Path(folder) / ("out.dtseries.nii" if is_cifti else "out.nii.gz"
                          if path.endswith(".gz") else "out.nii")
    if case.startswith("xneuro"):
        import xneuro.io as xio

        writer = xio.to_cifti if is_cifti else xio.to_nifti
        if case == "xneuro_mean":  # skipna=False: the same work as numpy's mean
            return lambda: np.asarray(xio.load_bold(path).mean("time", skipna=False).values)
        if case == "xneuro_mean_unpacked":
            return lambda: np.asarray(xio.load_bold(path, unpack_to=folder)
                                      .mean("time", skipna=False).values)
        if case == "xneuro_load":  # one chunk, one read
            return lambda: np.asarray(xio.load_bold(path, chunks=-1).values)
        if case == "xneuro_write":
            loaded = xio.load_bold(path).load()
            return lambda: writer(loaded, out)
        if case == "xneuro_copy":
            return lambda: writer(xio.load_bold(path), out)
    elif case == "nibabel_mean":
        return lambda: np.asarray(nib.load(path).get_fdata(dtype=np.float32)
                                  .mean(axis=0 if is_cifti else 3))
    elif case == "nibabel_load":  # mmap=False: really read (a memmap would defer it)
        return lambda: nib.load(path, mmap=False).get_fdata(dtype=np.float32)
    elif case == "nibabel_write":
        img = nib.load(path)
        data = img.get_fdata(dtype=np.float32)
        if is_cifti:
            return lambda: nib.save(nib.Cifti2Image(data, header=img.header), out)
        return lambda: nib.save(nib.Nifti1Image(data, img.affine, img.header), out)
    raise SystemExit(f"unknown case {case}")


def _worker(case: str, path: str, folder: str, repeat: int) -> dict[str, float]:
    """Run one case in this process: seconds (median), first call and its peak MiB."""
    from xneuro.bench.harness import KernelPeakRSS

    is_cifti = path.endswith(".dtseries.nii")
    # Warm up on a tiny file of the same format: imports and thread pools are not timed.
    tiny_dir = Path(folder) / "warmup"
    tiny_dir.mkdir(exist_ok=True)
    tiny = (make_cifti(tiny_dir, 4, scale=0.001) if is_cifti
            else make_nifti(tiny_dir, 1000, 4, gz=path.endswith(".gz")))
    _operation(case, str(tiny), str(tiny_dir))()
    op = _operation(case, path, folder)
    with KernelPeakRSS() as rss:
        start = time.perf_counter()
        op()
        first = time.perf_counter() - start
    peak = rss.megabytes
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        op()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times) if times else first, "first": first,
            "repeats": len(times), "peak_mib": peak, "load": os.getloadavg()[0]}


def run_case(case: str, path: Path, folder: Path, repeat: int) -> dict[str, Any]:
    """Run one case in a fresh subprocess; ``{"error": ...}`` when it fails."""
    out = subprocess.run(
        [sys.executable, str(HERE), "--worker", case, "--file", str(path),
         "--folder", str(folder), "--repeat", str(repeat)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        return {"error": f"{case} on {path.name} failed: "
                         + (out.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main


def _kind(path: Path) -> str:
    return next(v for k, v in sorted(KINDS.items(), key=lambda kv: -len(kv[0]))
                if path.name.endswith(k))


def bench_file(path: Path, folder: Path, ops: list[str], repeat: int, n_unit: int,
               n_time: int) -> list:
    """The rows of ``ops`` on one file, xneuro and (where it has the op) nibabel."""
    from xneuro.bench.harness import Result

    size_bytes = os.path.getsize(path)
    size = f"{n_unit / 1000:.0f}k x {n_time} ({size_bytes / 2**20:.0f} MiB)"
    rows = []
    for op in ops:
        for who in ("xneuro", "nibabel") if op in PEER_OPS else ("xneuro",):
            m = run_case(f"{who}_{op}", path, folder, repeat)
            case = f"{op} {_kind(path)}"
            if "error" in m:
                row = Result(benchmark="io", case=case, size=size, who=who,
                             seconds=float("nan"), note=m["error"])
            else:
                row = Result(benchmark="io", case=case, size=size, who=who,
                             seconds=m["seconds"], first_seconds=m["first"],
                             repeats=m["repeats"], throughput=size_bytes / 1e6 / m["seconds"],
                             unit="MB/s", peak_host_mb=m["peak_mib"], load=m["load"])
            rows.append(row)
            print(f"  {case:<28} {size:>24} {who:<8} {row.seconds:8.3f} s "
                  f"(first {row.first_seconds or float('nan'):.3f} s, "
                  f"{row.peak_host_mb or float('nan'):.0f} MiB) {row.note}", flush=True)
    return rows


def _plan(size: str) -> tuple[list[tuple[str, int, int, list[str]]], list[tuple[int, int]]]:
    """Headline files (kind, units, volumes, ops) and the mean sweep (voxels, volumes)."""
    if size == "small":
        return [("nii", 25_000, 100, ["mean", "write"]), ("gz", 25_000, 100, ["mean"]),
                ("cifti", 25, 100, ["mean"])], []
    n_voxel, n_time_cifti = (100_000, 300) if size == "medium" else (1_000_000, 1200)
    headline = [("nii", n_voxel, 300, ["mean", "load", "write", "copy"]),
                ("gz", n_voxel, 300, ["mean", "mean_unpacked", "load", "write"]),
                ("cifti", 100, n_time_cifti, ["mean", "load", "write"])]
    sweep = ([(25_000, 300), (200_000, 300), (100_000, 1200)] if size == "medium"
             else [(250_000, 300), (2_000_000, 300)])
    return headline, sweep


def main(argv: list[str] | None = None) -> int:
    """Generate the files, run every case in a subprocess and print the rows."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--worker"]:  # one case; the nibabel ones import no xneuro
        worker = argparse.ArgumentParser()
        for name in ("--worker", "--file", "--folder"):
            worker.add_argument(name)
        worker.add_argument("--repeat", type=int)
        wargs = worker.parse_args(argv)
        print(json.dumps(_worker(wargs.worker, wargs.file, wargs.folder, wargs.repeat)))
        return 0
    from xneuro.bench.harness import add_arguments, finish

    parser = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    if args.device != "cpu":
        print("bench_io: file I/O has no GPU path; skipping --device cuda")
        return 0
    if args.workers or args.scheduler:
        print("bench_io: each case runs its Dask work on the threaded scheduler in its own "
              "process; --workers/--scheduler are not used")
    import nibabel

    print(f"bench_io --size {args.size}: nibabel {nibabel.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs", flush=True)
    headline, sweep = _plan(args.size)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_io_") as tmp:
        folder = Path(tmp)
        for kind, n, n_time, ops in headline:
            if kind == "cifti":  # n is the percentage of the 91k grayordinates
                path = make_cifti(folder, n_time, scale=n / 100)
                n_unit = len(_brain_models(n / 100))
            else:
                path = make_nifti(folder, n, n_time, gz=kind == "gz")
                n_unit = int(np.prod(_volume_shape(n)))
            rows += bench_file(path, folder, ops, args.repeat, n_unit, n_time)
            path.unlink()
        for n_voxel, n_time in sweep:
            path = make_nifti(folder, n_voxel, n_time, gz=False)
            rows += bench_file(path, folder, ["mean"], args.repeat,
                               int(np.prod(_volume_shape(n_voxel))), n_time)
            path.unlink()
    return finish(rows, args, f"\nio ({args.size}): xneuro.io beside nibabel + numpy; "
                              "every case in its own process")


if __name__ == "__main__":
    raise SystemExit(main())
