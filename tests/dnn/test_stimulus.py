import numpy as np
import pytest

from xneuro.core.errors import InputError
from xneuro.dnn import Stimulus

# written as dnnbrain's StimulusFile.write formats them: str columns keep every column's own
# type; no final newline
IMAGE_FILE = (
    "type=image\npath=/data/pics\ntitle=two animals\n"
    "data=stimID,label,onset,duration,condition,acc\n"
    "cat1.png,0,0.0,1.5,cat,0.4\ndog1.png,1,2.0,1.5,dog,1e-05\ndog2.png,1,4.0,1.5,dog,0.6"
)
# all columns numeric: one float array, so stimID 3 is written 3.0 (and read back as int)
VIDEO_FILE = "type=video\npath=/data/movie.mp4\ndata=stimID,onset\n3.0,0.5\n7.0,1.0"


@pytest.mark.parametrize("text", [IMAGE_FILE, VIDEO_FILE])
def test_stim_csv_round_trips_byte_for_byte(tmp_path, text):
    source = tmp_path / "in.stim.csv"
    source.write_bytes(text.encode())
    stim = Stimulus.load(source)
    target = tmp_path / "out.stim.csv"
    stim.save(target)
    assert target.read_bytes() == source.read_bytes()


def test_read_types_as_dnnbrain(tmp_path):
    path = tmp_path / "a.stim.csv"
    path.write_text(IMAGE_FILE)
    stim = Stimulus.load(path)
    assert stim.items == ["stimID", "label", "onset", "duration", "condition", "acc"]
    assert stim.get("stimID").dtype.kind == "U" and stim.get("condition").dtype.kind == "U"
    assert stim.get("label").dtype == np.int64 and stim.get("acc").dtype == np.float64
    assert stim.header == {"type": "image", "path": "/data/pics", "title": "two animals"}
    path.write_text(VIDEO_FILE)
    assert Stimulus.load(path).get("stimID").tolist() == [3, 7]
    assert len(stim) == 3 and stim[1:].get("stimID").tolist() == ["dog1.png", "dog2.png"]
    assert stim[0, "label"].items == ["label"]
    assert [p.name for p in stim.paths()] == ["cat1.png", "dog1.png", "dog2.png"]
    ds = stim.to_xarray()
    assert list(ds["stimulus"].values) == ["cat1.png", "dog1.png", "dog2.png"]


def test_permutate_is_seeded_and_leaves_the_original(tmp_path):
    stim = Stimulus({"type": "image", "path": "."},
                    {"stimID": np.array([f"{i}.png" for i in range(20)]), "label": np.arange(20)})
    a, b = stim.permutate("label", seed=3), stim.permutate("label", seed=3)
    np.testing.assert_array_equal(a.get("label"), b.get("label"))
    assert sorted(a.get("label")) == list(range(20)) and list(a.get("label")) != list(range(20))
    np.testing.assert_array_equal(stim.get("label"), np.arange(20))


def test_stimulus_errors(tmp_path):
    stim = Stimulus({"type": "image", "path": "."}, {"stimID": np.array(["a", "b"])})
    with pytest.raises(InputError, match="one value per stimulus"):
        stim.set("label", [1, 2, 3])
    with pytest.raises(InputError, match=r"does not end with '\.stim\.csv'"):
        stim.save(tmp_path / "x.csv")
    bad = tmp_path / "b.stim.csv"
    bad.write_text("type=image\ndata=stimID\na")
    with pytest.raises(InputError, match="has no 'path=' line"):
        Stimulus.load(bad)
    bad.write_text("type=image\npath=.\ndata=stimID,label\na,1\nb")
    with pytest.raises(InputError, match="row 2 has 1 values"):
        Stimulus.load(bad)
