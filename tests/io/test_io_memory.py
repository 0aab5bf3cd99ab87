"""A 4-D run larger than the memory allowed: a voxel-chunked mean stays under the bound.

The files are generated volume by volume (never whole in memory): a 225 MiB
uncompressed run (64 x 64 x 48 voxels, 600 volumes, int16) and a 113 MiB
(uncompressed size; 300 volumes) gzip run. The mean over
time is computed with 16 (resp. 12) voxel chunks on the synchronous scheduler
while tracemalloc records the peak of Python and numpy allocations; the bound
is a quarter of the uncompressed size.
"""

from __future__ import annotations

import gzip
import tracemalloc

import dask
import numpy as np
import pytest
from iohelpers import nib

from xneuro.io import load_bold

SHAPE = (64, 64, 48)
MiB = 2**20


def _write_run(path, n_time: int, compress: bool):
    """Volume t holds base + t (int16), written slab by slab."""
    header = nib.Nifti1Header()
    header.set_data_shape((*SHAPE, n_time))
    header.set_data_dtype(np.int16)
    header.set_zooms((2.0, 2.0, 2.0, 1.0))
    header.set_xyzt_units("mm", "sec")
    header.set_sform(np.diag([2.0, 2.0, 2.0, 1.0]), code="aligned")
    header["vox_offset"] = 352
    base = (np.arange(np.prod(SHAPE)) % 1000).astype(np.int16)
    with gzip.open(path, "wb", compresslevel=1) if compress else open(path, "wb") as f:
        header.write_to(f)
        f.write(b"\x00" * (352 - f.tell()))  # write_to may write the extension flag
        for t in range(n_time):
            f.write((base + t).astype("<i2").tobytes())
    return base


@pytest.mark.slow
@pytest.mark.parametrize(("name", "n_time", "n_chunks"), [("run.nii", 600, 16),
                                                          ("run.nii.gz", 300, 12)])
def test_voxel_chunked_mean_stays_under_the_memory_bound(tmp_path, name, n_time, n_chunks):
    path = tmp_path / name
    base = _write_run(path, n_time, compress=name.endswith(".gz"))
    file_bytes = int(np.prod(SHAPE)) * n_time * 2
    bound = file_bytes // 4
    n_voxel = int(np.prod(SHAPE))

    tracemalloc.start()
    try:
        bold = load_bold(path, chunks=n_voxel // n_chunks)
        assert bold.nbytes == file_bytes
        with dask.config.set(scheduler="synchronous"):
            mean = bold.mean("time").values
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < bound, f"peak {peak / MiB:.0f} MiB >= bound {bound / MiB:.0f} MiB"
    expected = base + (n_time - 1) / 2  # voxels are listed in file order
    np.testing.assert_allclose(mean, expected)
