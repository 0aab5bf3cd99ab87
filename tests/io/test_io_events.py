"""BIDS events: reading, and the documented rules of events_to_paradigm."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from xneuro.core.errors import InputError
from xneuro.io import events_to_paradigm, load_events


@pytest.fixture
def events_file(tmp_path):
    path = tmp_path / "sub-01_task-prf_events.tsv"
    path.write_text(
        "onset\tduration\ttrial_type\tresponse_time\n"
        "0\t3\tface\t0.5\n"
        "1.0\t2\tface\tn/a\n"
        "1.5\t0\tbutton\t1.2\n"
        "10\t1\thouse\t0.8\n"
        "29\t5\tface\t0.7\n"
    )
    return path


def test_load_events_reads_bids_tsv(events_file):
    events = load_events(events_file)
    assert events.sizes == {"event": 5}
    np.testing.assert_array_equal(events.onset, [0, 1, 1.5, 10, 29])
    assert events.onset.attrs["units"] == "s"
    assert events.trial_type.values.tolist() == ["face", "face", "button", "house", "face"]
    assert np.isnan(events.response_time.values[1])  # n/a
    assert events.attrs["source"] == str(events_file)


def test_paradigm_values_by_hand(events_file):
    design = events_to_paradigm(events_file, tr=2.0, n_vol=15, oversampling=4)
    assert design.dims == ("time", "condition")
    assert design.condition.values.tolist() == ["button", "face", "house"]
    np.testing.assert_allclose(design.time, 2.0 * np.arange(15))
    face = design.sel(condition="face").values
    # overlapping face events add: volume 0 holds [0, 2) fully plus [1, 2) -> 1.5
    assert face[:3].tolist() == [1.5, 1.0, 0.0]
    # zero-duration event: one fine bin of 0.5 s in a 2 s volume -> 0.25
    assert design.sel(condition="button").values[0] == 0.25
    assert design.sel(condition="house").values[5] == 0.5
    # past the run end (30 s): [29, 34) is clipped to [29, 30)
    assert face[14] == 0.5 and face.sum() == pytest.approx(1.5 + 1 + 0.5)


def test_fine_resolution_and_modulation():
    events = pd.DataFrame({"onset": [0.0, 4.0], "duration": [1.0, 2.0], "amp": [2.0, -1.0]})
    fine = events_to_paradigm(events, tr=2.0, n_vol=4, oversampling=4, condition=None,
                              modulation="amp", resolution="fine")
    assert fine.sizes == {"time": 16, "condition": 1} and fine.attrs["tr"] == 0.5
    expected = np.zeros(16)
    expected[0:2] = 2.0
    expected[8:12] = -1.0
    np.testing.assert_array_equal(fine.values[:, 0], expected)
    coarse = events_to_paradigm(events, tr=2.0, n_vol=4, oversampling=4, condition=None,
                                modulation="amp")
    np.testing.assert_allclose(coarse.values[:, 0], fine.values[:, 0].reshape(4, 4).mean(1))


def test_events_before_start_and_after_end_are_clipped_or_dropped(caplog):
    events = pd.DataFrame({"onset": [-1.0, 50.0, 3.0], "duration": [2.0, 1.0, 1.0],
                           "trial_type": ["a", "a", "a"]})
    with caplog.at_level(logging.INFO, logger="xneuro.io.events"):
        design = events_to_paradigm(events, tr=1.0, n_vol=10, oversampling=2)
    assert design.values[:, 0].tolist() == [1.0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0]
    assert "1 dropped, 1 clipped" in caplog.text


def test_conditions_select_and_order():
    events = pd.DataFrame({"onset": [0.0, 1.0], "duration": [1.0, 1.0], "trial_type": ["b", "a"]})
    design = events_to_paradigm(events, tr=1.0, n_vol=3, conditions=["b", "c"])
    assert design.condition.values.tolist() == ["b", "c"]
    assert design.values.tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_missing_columns_are_clear_errors(tmp_path):
    no_duration = pd.DataFrame({"onset": [0.0], "trial_type": ["a"]})
    with pytest.raises(InputError, match=r"lacks the column\(s\) \['duration'\]"):
        events_to_paradigm(no_duration, tr=1.0, n_vol=3)
    no_type = pd.DataFrame({"onset": [0.0], "duration": [1.0]})
    with pytest.raises(InputError, match=r"\['trial_type'\].*condition="):
        events_to_paradigm(no_type, tr=1.0, n_vol=3)
    with pytest.raises(InputError, match=r"\['amp'\]"):
        events_to_paradigm(no_type, tr=1.0, n_vol=3, condition=None, modulation="amp")
    path = tmp_path / "bad_events.tsv"
    path.write_text("start\tduration\n0\t1\n")
    with pytest.raises(InputError, match=r"lacks the column\(s\) \['onset'\]"):
        load_events(path)


def test_bad_values_and_arguments(tmp_path):
    negative = pd.DataFrame({"onset": [0.0], "duration": [-1.0], "trial_type": ["a"]})
    with pytest.raises(InputError, match="'duration': has negative values at rows"):
        events_to_paradigm(negative, tr=1.0, n_vol=3)
    missing = pd.DataFrame({"onset": [np.nan], "duration": [1.0], "trial_type": ["a"]})
    with pytest.raises(InputError, match="'onset': has n/a"):
        events_to_paradigm(missing, tr=1.0, n_vol=3)
    text = tmp_path / "text_events.tsv"
    text.write_text("onset\tduration\nsoon\t1\n")
    with pytest.raises(InputError, match="has text at rows"):
        load_events(text)
    ok = pd.DataFrame({"onset": [0.0], "duration": [1.0], "trial_type": ["a"]})
    with pytest.raises(InputError, match="n_vol"):
        events_to_paradigm(ok, tr=1.0, n_vol=0)
    with pytest.raises(InputError, match="resolution"):
        events_to_paradigm(ok, tr=1.0, n_vol=3, resolution="ms")
    with pytest.raises(InputError, match="not an existing file"):
        load_events(tmp_path / "none.tsv")
