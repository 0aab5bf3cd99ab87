"""The fast ``.act.h5`` paths: gzip chunks made and decoded outside HDF5, in threads.

Files written by plain h5py (as dnnbrain writes them) must read back bit-exact
through the direct path; files we write must read back through plain h5py;
everything the direct path does not handle must fall back to HDF5.
"""

import zlib

import h5py
import numpy as np
import pytest

from xneuro.dnn import Activation, io_h5, read_act_h5, write_act_h5


@pytest.fixture
def direct_calls(monkeypatch):
    """Count the blocks read by the direct (raw chunk) path."""
    calls = []
    original = io_h5._read_direct

    def spy(dataset, start, stop):
        calls.append((start, stop))
        return original(dataset, start, stop)

    monkeypatch.setattr(io_h5, "_read_direct", spy)
    return calls


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of one chunk row, so that small files are read and written in several blocks."""
    monkeypatch.setattr(io_h5, "_rows_per_block",
                        lambda shape, chunks, itemsize: chunks[0] if chunks else 5)


def _values(rng, shape, dtype):
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind in "iu":
        return np.round(values * 1000).astype(dtype)
    return np.maximum(values, 0).astype(dtype)  # ReLU-like, as activations are


def _read(path, name):
    return read_act_h5(path)[name]["activation"].values


# (shape, dtype) whose h5py automatic chunks overhang the dataset: in every axis for
# (37, 50, 13, 13) -> (10, 13, 7, 7); axes 0-2 for (53, 3, 7, 5) float64 -> (27, 2, 4, 5);
# fully connected (n, unit, 1, 1)
AUTO = [((37, 50, 13, 13), np.float32), ((53, 3, 7, 5), np.float64),
        ((301, 4096, 1, 1), np.float32)]


@pytest.mark.parametrize(("shape", "dtype"), AUTO)
def test_files_written_as_dnnbrain_does_read_back_exactly(tmp_path, rng, direct_calls,
                                                          small_blocks, shape, dtype):
    path, values = tmp_path / "net.act.h5", _values(rng, shape, dtype)
    with h5py.File(path, "w") as file:
        file.create_dataset("layer", data=values, compression="gzip")
    back = _read(path, "layer")
    assert back.dtype == values.dtype
    np.testing.assert_array_equal(back, values)
    assert len(direct_calls) > 1  # several blocks, all through the raw-chunk path


# explicit chunks: overhanging in every axis; tiling rows and columns exactly
CHUNKED = [((13, 7, 11, 5), (4, 3, 5, 2)), ((9, 6, 4, 4), (4, 3, 2, 2))]
DTYPES = [np.float32, np.float64, np.int16, ">f4", np.uint8]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "chunks"), CHUNKED)
def test_explicit_chunks_and_dtypes(tmp_path, rng, direct_calls, small_blocks, shape, chunks,
                                    dtype):
    path, values = tmp_path / "odd.act.h5", _values(rng, shape, dtype)
    with h5py.File(path, "w") as file:
        file.create_dataset("odd", data=values, chunks=chunks, compression="gzip",
                            compression_opts=1)
    back = _read(path, "odd")
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, values)
    assert direct_calls


@pytest.mark.parametrize(("shape", "dtype"), AUTO)
def test_files_we_write_read_through_plain_h5py(tmp_path, rng, small_blocks, shape, dtype):
    path, values = tmp_path / "ours.act.h5", _values(rng, shape, dtype)
    write_act_h5(Activation("layer", values).get("layer").rename("layer"), path)
    with h5py.File(path) as file:
        dataset = file["layer"]
        assert (dataset.compression, dataset.compression_opts) == ("gzip", 4)
        assert not dataset.shuffle and dataset.chunks is not None
        np.testing.assert_array_equal(dataset[...], values)  # HDF5's deflate decodes our chunks
        origin = (0,) * 4
        data = zlib.decompress(dataset.id.read_direct_chunk(origin)[1])  # plain zlib streams
        assert len(data) == np.prod(dataset.chunks) * values.itemsize
    np.testing.assert_array_equal(_read(path, "layer"), values)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "chunks"), CHUNKED)
def test_write_rows_tiles_any_chunk_shape(tmp_path, rng, shape, chunks, dtype):
    path, values = tmp_path / "tiles.act.h5", _values(rng, shape, dtype)
    with h5py.File(path, "w") as file:
        dataset = file.create_dataset("tiles", shape=shape, dtype=dtype, chunks=chunks,
                                      compression="gzip", compression_opts=4)
        for start in range(0, shape[0], 2 * chunks[0]):  # the last block is short
            io_h5._write_rows(dataset, start, values[start:start + 2 * chunks[0]])
        assert dataset.id.get_num_chunks() == np.prod(
            [-(-n // c) for n, c in zip(shape, chunks, strict=True)])
    with h5py.File(path) as file:
        np.testing.assert_array_equal(file["tiles"][...], values)
    np.testing.assert_array_equal(_read(path, "tiles"), values)


def test_unwritten_chunks_read_the_fill_value(tmp_path, rng, direct_calls):
    path, values = tmp_path / "partial.act.h5", _values(rng, (10, 6, 5, 5), np.float32)
    with h5py.File(path, "w") as file:
        filled = file.create_dataset("filled", shape=values.shape, dtype=np.float32,
                                     chunks=(4, 3, 2, 2), compression="gzip", fillvalue=7.5)
        filled[0:4, 0:3] = values[0:4, 0:3]  # one chunk row of one channel run
        filled[9] = values[9]  # the last, overhanging chunk row
        default = file.create_dataset("default", shape=values.shape, dtype=np.float32,
                                      chunks=(4, 3, 2, 2), compression="gzip")
        default[4:6, 3:, 2:4, :] = values[4:6, 3:, 2:4, :]
    with h5py.File(path) as file:
        expected = {name: file[name][...] for name in file}
    assert (expected["filled"] == 7.5).any() and (expected["default"] == 0).any()
    for name, want in expected.items():
        np.testing.assert_array_equal(_read(path, name), want)
    assert len(direct_calls) == 2


def test_chunks_stored_without_the_filter_read_raw(tmp_path, rng, direct_calls):
    path, values = tmp_path / "mask.act.h5", _values(rng, (4, 3, 2, 2), np.float32)
    with h5py.File(path, "w") as file:
        dataset = file.create_dataset("raw", shape=(8, 3, 2, 2), dtype=np.float32,
                                      chunks=(4, 3, 2, 2), compression="gzip")
        dataset[0:4] = values
        dataset.id.write_direct_chunk((4, 0, 0, 0), (values + 1).tobytes(), filter_mask=1)
    with h5py.File(path) as file:
        expected = file["raw"][...]
    np.testing.assert_array_equal(expected[4:], values + 1)
    np.testing.assert_array_equal(_read(path, "raw"), expected)
    assert direct_calls


@pytest.mark.parametrize("layout", [
    {"compression": "gzip", "shuffle": True},
    {"compression": "gzip", "fletcher32": True},
    {"compression": "lzf"},
    {"chunks": (4, 3, 2, 2)},
    {},  # contiguous
])
def test_other_layouts_fall_back_to_hdf5(tmp_path, rng, direct_calls, layout):
    path, values = tmp_path / "other.act.h5", _values(rng, (11, 6, 5, 5), np.float32)
    with h5py.File(path, "w") as file:
        file.create_dataset("other", data=values, **layout)
    np.testing.assert_array_equal(_read(path, "other"), values)
    np.testing.assert_array_equal(read_act_h5(path)["other"]["activation"][3:9].values,
                                  values[3:9])
    assert not direct_calls


def test_row_ranges_not_aligned_to_chunk_rows(tmp_path, rng, direct_calls, small_blocks):
    path, values = tmp_path / "rows.act.h5", _values(rng, (23, 7, 11, 5), np.float32)
    with h5py.File(path, "w") as file:
        file.create_dataset("rows", data=values, chunks=(4, 3, 5, 2), compression="gzip")
    with h5py.File(path) as file:
        expected = file["rows"][3:17]
    layer = read_act_h5(path)["rows"]["activation"]
    np.testing.assert_array_equal(layer[3:17].values, expected)
    np.testing.assert_array_equal(layer[5:6, 2:4].values, values[5:6, 2:4])
    for start, stop in [(3, 17), (5, 6), (0, 23), (21, 23), (4, 8)]:
        np.testing.assert_array_equal(io_h5._read_rows(str(path), "rows", start, stop),
                                      values[start:stop])
    assert direct_calls


@pytest.mark.parametrize("decoder", ["libdeflate", "isal", "zlib"])
def test_each_decoder_reads_back_exactly(tmp_path, rng, monkeypatch, direct_calls, small_blocks,
                                         decoder):
    """libdeflate, ISA-L and zlib decode the same chunks to the same values."""
    if decoder == "libdeflate":
        pytest.importorskip("deflate")
    else:
        monkeypatch.setattr(io_h5, "_libdeflate", lambda: None)
    if decoder == "zlib":
        monkeypatch.setattr(io_h5, "_isal", lambda: None)
    elif decoder == "isal":
        pytest.importorskip("isal")
    path, values = tmp_path / "plain.act.h5", _values(rng, (31, 40, 7, 5), np.float32)
    with h5py.File(path, "w") as file:
        file.create_dataset("conv", data=values, compression="gzip")
    np.testing.assert_array_equal(_read(path, "conv"), values)
    assert direct_calls


def test_without_isal_zlib_writes_and_reads(tmp_path, rng, monkeypatch, small_blocks):
    monkeypatch.setattr(io_h5, "_isal", lambda: None)
    monkeypatch.setattr(io_h5, "_libdeflate", lambda: None)
    made = []
    compressor = io_h5._compressor
    monkeypatch.setattr(io_h5, "_compressor", lambda level: made.append(level) or compressor(level))
    path, values = tmp_path / "zlib.act.h5", _values(rng, (37, 50, 13, 13), np.float32)
    write_act_h5(Activation("conv", values).get("conv").rename("conv"), path)
    with h5py.File(path) as file:
        dataset = file["conv"]
        chunk = values[tuple(slice(0, c) for c in dataset.chunks)]
        assert dataset.id.read_direct_chunk((0, 0, 0, 0))[1] == zlib.compress(chunk.tobytes(), 4)
        np.testing.assert_array_equal(dataset[...], values)
    assert made == [4] * 4  # one block of chunk rows at a time, each compressed by us
    np.testing.assert_array_equal(_read(path, "conv"), values)


def test_isal_makes_the_chunks_when_installed(tmp_path, rng):
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    assert io_h5._isal() is isal_zlib
    path, values = tmp_path / "isal.act.h5", _values(rng, (20, 16, 6, 6), np.float32)
    write_act_h5(Activation("conv", values).get("conv").rename("conv"), path)
    with h5py.File(path) as file:
        dataset = file["conv"]
        chunk = values[tuple(slice(0, c) for c in dataset.chunks)].tobytes()
        raw = dataset.id.read_direct_chunk((0, 0, 0, 0))[1]
        assert raw == isal_zlib.compress(chunk, io_h5.ISAL_LEVEL)
        assert zlib.decompress(raw) == chunk
