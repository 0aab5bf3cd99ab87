"""Benchmark xneuro.io against a plain nibabel + numpy load: time and peak memory.

Files (generated in a temporary folder, float32 BOLD-like values):

- NIfTI: 100k voxels (50 x 50 x 40) x 300 volumes, uncompressed and gzip;
- CIFTI-2 dense series: 91,282 grayordinates (the HCP 91k count: 29,696 +
  29,716 cortical vertices, 31,870 subcortical voxels) x 300 volumes.

Operations, each run in a fresh subprocess so that peak memory is its own
(peak RSS above the RSS after imports and set-up, via ``/proc``):

- ``mean``: temporal mean of every voxel. xneuro:
  ``load_bold(path).mean("time", skipna=False)`` (lazy, voxel chunks, dask
  threads; ``skipna=False`` does numpy's work, xarray's default NaN-skipping
  mean costs about twice as much); nibabel: ``get_fdata(dtype=float32).mean``
  (on a memory map for uncompressed files).
- ``load``: the whole run in memory. xneuro: ``load_bold(path, chunks=-1).values``
  (one read; dask's compute still copies the block into its result, so the
  peak is about twice the run);
  nibabel: ``nibabel.load(path, mmap=False).get_fdata(dtype=float32)`` (with
  the default memory map nothing would be read yet).
- ``write``: an in-memory run to a file. xneuro: ``to_nifti``/``to_cifti`` of
  the labeled array; nibabel: ``nibabel.save`` of a ``Nifti1Image``/``Cifti2Image``.
- ``copy`` (xneuro only): ``to_nifti(load_bold(path))``, file to file without
  holding the run in memory.

Usage::

    python benchmarks/bench_io.py --quick     # smallest sizes, < 60 s
    python benchmarks/bench_io.py             # the sizes above and a size sweep
    python benchmarks/bench_io.py --json io.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
CIFTI_91K = (29_696, 29_716, 31_870)


# ----------------------------------------------------------------------------- memory


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
    except OSError:
        pass


# ----------------------------------------------------------------------------- files


def _volume_shape(n_voxel: int) -> tuple[int, int, int]:
    side = round((n_voxel / 0.8) ** (1 / 3) / 1.0)
    k = max(1, round(n_voxel / (side * side)))
    return side, side, k


def _bold_values(n_time: int, n_unit: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(500, 1500, n_unit).astype(np.float32)
    signal = np.sin(np.linspace(0, 20, n_time, dtype=np.float32))[:, None]
    return base + 5 * signal + rng.standard_normal((n_time, n_unit), dtype=np.float32)


def make_nifti(folder: Path, n_voxel: int, n_time: int, gz: bool) -> Path:
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


def _brain_models(scale: float = 1.0):
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
    import nibabel as nib

    axis = _brain_models(scale)
    series = nib.cifti2.cifti2_axes.SeriesAxis(0.0, 0.72, n_time)
    img = nib.Cifti2Image(_bold_values(n_time, len(axis)), header=(series, axis))
    img.nifti_header.set_intent("ConnDenseSeries")
    path = folder / f"bold_{len(axis)}x{n_time}.dtseries.nii"
    nib.save(img, path)
    return path


# ----------------------------------------------------------------------------- workers


def _worker(case: str, path: str, folder: str) -> dict[str, float]:
    """Run one case in this process; return seconds and peak MiB above the set-up RSS."""
    import nibabel as nib

    is_cifti = path.endswith(".dtseries.nii")
    ours = case.startswith("xneuro")
    # Warm up on a tiny file of the same format: imports and thread pools are not timed.
    tiny_dir = Path(folder) / "warmup"
    tiny_dir.mkdir(exist_ok=True)
    tiny = (make_cifti(tiny_dir, 4, scale=0.001) if is_cifti
            else make_nifti(tiny_dir, 1000, 4, gz=path.endswith(".gz")))
    if ours:
        import xneuro.io as xio

        warm = xio.load_bold(tiny)
        np.asarray(warm.mean("time").values)
        (xio.to_cifti if is_cifti else xio.to_nifti)(
            warm, tiny_dir / ("w.dtseries.nii" if is_cifti else "w.nii"))
    else:
        np.asarray(nib.load(tiny).get_fdata(dtype=np.float32).mean())
    setup = None
    if case.endswith("write"):
        if ours:
            setup = xio.load_bold(path).load()
        else:
            img = nib.load(path)
            setup = (img.get_fdata(dtype=np.float32), img)
    _reset_peak()
    base = _rss_kib("VmRSS")
    start = time.perf_counter()
    out = Path(folder) / ("out.dtseries.nii" if is_cifti else "out.nii.gz"
                          if path.endswith(".gz") else "out.nii")
    if case == "xneuro_mean":  # skipna=False: the same work as numpy's mean
        np.asarray(xio.load_bold(path).mean("time", skipna=False).values)
    elif case == "xneuro_mean_unpacked":
        np.asarray(xio.load_bold(path, unpack_to=folder).mean("time", skipna=False).values)
    elif case == "nibabel_mean":
        data = nib.load(path).get_fdata(dtype=np.float32)
        np.asarray(data.mean(axis=0 if is_cifti else 3))
    elif case == "xneuro_load":  # one chunk, one read
        np.asarray(xio.load_bold(path, chunks=-1).values)
    elif case == "nibabel_load":  # mmap=False: really read (a memmap would defer it)
        nib.load(path, mmap=False).get_fdata(dtype=np.float32)
    elif case == "xneuro_write":
        (xio.to_cifti if is_cifti else xio.to_nifti)(setup, out)
    elif case == "nibabel_write":
        data, img = setup
        cls = nib.Cifti2Image if is_cifti else nib.Nifti1Image
        new = cls(data, header=img.header) if is_cifti else cls(data, img.affine, img.header)
        nib.save(new, out)
    elif case == "xneuro_copy":
        writer = xio.to_cifti if is_cifti else xio.to_nifti
        writer(xio.load_bold(path), out)
    else:
        raise SystemExit(f"unknown case {case}")
    seconds = time.perf_counter() - start
    peak = max(_rss_kib("VmHWM") - base, 0) / 1024
    return {"seconds": seconds, "peak_mib": peak}


def run_case(case: str, path: Path, folder: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(HERE), "--worker", case, "--path", str(path),
         "--folder", str(folder)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{case} on {path.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main


def _table(rows: list[dict[str, object]]) -> str:
    header = f"{'file':<34} {'op':<6} {'MiB':>6} {'xneuro s':>9} {'xneuro MiB':>11} " \
             f"{'nibabel s':>10} {'nibabel MiB':>12} {'load avg':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        peer_s = "" if r["nibabel_s"] is None else f"{r['nibabel_s']:.2f}"
        peer_m = "" if r["nibabel_mib"] is None else f"{r['nibabel_mib']:.0f}"
        lines.append(f"{r['file']:<34} {r['op']:<6} {r['size_mib']:>6.0f} {r['xneuro_s']:>9.2f} "
                     f"{r['xneuro_mib']:>11.0f} {peer_s:>10} {peer_m:>12} {r['load']:>9.2f}")
    return "\n".join(lines)


def bench_file(path: Path, folder: Path, ops: list[str]) -> list[dict[str, object]]:
    rows = []
    size = os.path.getsize(path) / 2**20
    for op in ops:
        load = os.getloadavg()[0]
        ours = run_case(f"xneuro_{op}", path, folder)
        peer = run_case(f"nibabel_{op}", path, folder) if op in ("mean", "load", "write") \
            else None
        rows.append({"file": path.name, "op": op, "size_mib": size,
                     "xneuro_s": ours["seconds"], "xneuro_mib": ours["peak_mib"],
                     "nibabel_s": None if peer is None else peer["seconds"],
                     "nibabel_mib": None if peer is None else peer["peak_mib"],
                     "load": load})
        print(_table(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Generate the files, run every case in a subprocess and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes only (< 60 s)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.path, args.folder)))
        return

    import nibabel

    import xneuro

    print(f"xneuro {xneuro.__version__}, nibabel {nibabel.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs; load average (1 min) is shown beside every row: other "
          "work on the machine slows the timings")
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench_io_") as tmp:
        folder = Path(tmp)
        if args.quick:
            headline = [(make_nifti(folder, 25_000, 100, gz=False), ["mean", "write"]),
                        (make_nifti(folder, 25_000, 100, gz=True), ["mean"]),
                        (make_cifti(folder, 100, scale=0.25), ["mean"])]
            sweep: list[tuple[int, int]] = []
        else:
            headline = [
                (make_nifti(folder, 100_000, 300, gz=False), ["mean", "load", "write", "copy"]),
                (make_nifti(folder, 100_000, 300, gz=True),
                 ["mean", "mean_unpacked", "load", "write"]),
                (make_cifti(folder, 300), ["mean", "load", "write"]),
            ]
            sweep = [(25_000, 300), (200_000, 300), (100_000, 1200)]
        print(_table([]))
        for path, ops in headline:
            rows += bench_file(path, folder, ops)
            path.unlink()
        if sweep:
            print("\nsize sweep (uncompressed NIfTI, temporal mean):")
            for n_voxel, n_time in sweep:
                path = make_nifti(folder, n_voxel, n_time, gz=False)
                rows += bench_file(path, folder, ["mean"])
                path.unlink()
    print("\n" + _table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
