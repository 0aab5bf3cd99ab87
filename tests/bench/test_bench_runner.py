"""The benchmark runner on fake scripts: selection, failures, timeouts, report files."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from xneuro.bench.harness import read_results
from xneuro.bench.runner import discover, parse_workers, run_benchmarks, run_script, select
from xneuro.core.errors import InputError

#: Rows through the harness: xneuro, a measured peer, a recorded peer, a failed case.
#: xneuro's time depends on --workers: 2.0 s at 0 or 1 worker, 1.25 s at 2.
OK_SCRIPT = '''
"""Fake benchmark that writes rows."""
import argparse
from xneuro.bench.harness import Result, add_arguments, finish

args = add_arguments(argparse.ArgumentParser()).parse_args()
print("fake output line", flush=True)
w = args.workers
rows = [Result("ok", "square", args.size, "xneuro", {0: 2.0, 1: 2.0, 2: 1.25}[w],
               workers=w, throughput=10.0, unit="voxels/s", note="a note"),
        Result("ok", "square", args.size, "numpy", 4.0),
        Result("ok", "square", args.size, "braincoder", 10.0, source="recorded"),
        Result("ok", "cube", args.size, "xneuro", float("nan"), note="crashed")]
raise SystemExit(finish(rows, args, "fake"))
'''
#: Rows written as finish() writes them, without importing xneuro (faster), workers 0.
NODASK_SCRIPT = '''
"""Fake benchmark without a Dask path."""
import json
import sys

path = sys.argv[sys.argv.index("--json") + 1]
row = {"benchmark": "nodask", "case": "x", "size": "small", "who": "xneuro", "seconds": 1.0}
with open(path, "w") as f:
    json.dump({"results": [row]}, f)
'''
FAIL_SCRIPT = '''
"""Fake benchmark that fails."""
import sys
print("starting")
sys.stderr.write("Traceback: boom, something broke\\n")
sys.exit(3)
'''
SKIP_SCRIPT = '''
"""Fake benchmark that skips."""
print("bench_skip: no CUDA GPU is visible; skipping --device cuda")
'''
SLOW_SCRIPT = '''
"""Fake benchmark that hangs."""
import time
time.sleep(60)
'''


def _write(folder: Path, **scripts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in scripts.items():
        (folder / f"bench_{name}.py").write_text(textwrap.dedent(text))
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One run of the runner over an ok, a failing and a skipping script."""
    root = tmp_path_factory.mktemp("bench")
    folder = _write(root / "benchmarks", ok=OK_SCRIPT, fail=FAIL_SCRIPT, skip=SKIP_SCRIPT)
    lines: list[str] = []
    runs, json_path, md_path = run_benchmarks(path=folder, out=root / "out", echo=lines.append,
                                              argv=["xneuro", "bench"])
    return runs, json_path, md_path, lines


def test_runner_records_ok_failed_and_skipped(report):
    runs, _, _, lines = report
    status = {run.name: run for run in runs}
    assert [run.name for run in runs] == ["fail", "ok", "skip"]
    assert status["ok"].status == "ok" and len(status["ok"].rows) == 4
    assert status["fail"].status == "failed" and status["fail"].returncode == 3
    assert "exit status 3" in status["fail"].reason and "boom" in status["fail"].reason
    assert status["skip"].status == "skipped" and "no CUDA GPU" in status["skip"].reason
    assert "    fake output line" in lines                      # the script's output, streamed
    assert any(line.startswith("[bench] ok: ok in") for line in lines)


def test_runner_json(report):
    _, json_path, _, _ = report
    assert json_path.name.startswith("bench-") and json_path.suffix == ".json"
    payload = json.loads(json_path.read_text())
    assert payload["argv"] == ["xneuro", "bench"]
    assert payload["options"]["size"] == "small" and payload["options"]["workers"] is None
    assert {"cpus", "cpu_model", "platform"} <= set(payload["machine"])
    assert "numpy" in payload["versions"] and "python" in payload["versions"]
    scripts = {s["name"]: s for s in payload["scripts"]}
    assert scripts["ok"]["n_rows"] == 4 and scripts["fail"]["status"] == "failed"
    assert scripts["ok"]["wall_seconds"] > 0
    assert len(payload["results"]) == 4
    assert payload["results"][3]["seconds"] is None                  # NaN written as null
    assert (json_path.parent / "latest.json").read_text() == json_path.read_text()
    _, rows = read_results(json_path)  # readable as rows too
    assert [r.who for r in rows] == ["xneuro", "numpy", "braincoder", "xneuro"]
    assert math.isnan(rows[3].seconds) and rows[2].source == "recorded"


def test_runner_markdown(report):
    _, json_path, md_path, _ = report
    md = md_path.read_text()
    assert md_path.stem == json_path.stem
    assert md.startswith("# xneuro benchmarks, ")
    assert "- machine: " in md and "- versions: python " in md
    assert "| fail |  | failed |" in md and "boom" in md
    assert "| skip |  | skipped |" in md
    assert "## ok\n" in md and "## fail" not in md
    lines = md.splitlines()
    numpy_row = next(line for line in lines if "| numpy |" in line)
    assert "2.00x" in numpy_row                                      # 4.0 s / 2.0 s
    recorded = next(line for line in lines if "braincoder (recorded)" in line)
    assert "5.00x" in recorded
    assert any("| cube |" in line and "failed" in line for line in lines)
    assert "- xneuro, square, small: a note" in md
    assert "## Scaling" not in md
    assert (md_path.parent / "latest.md").read_text() == md


def test_scaling_run_reruns_only_dask_scripts(tmp_path):
    folder = _write(tmp_path / "benchmarks", ok=OK_SCRIPT, nodask=NODASK_SCRIPT)
    runs, json_path, md_path = run_benchmarks(["ok", "nodask"], path=folder, workers="1,2",
                                              out=tmp_path / "out", echo=None)
    assert [(run.name, run.workers) for run in runs] == [("ok", 1), ("ok", 2), ("nodask", 1)]
    md = md_path.read_text()
    assert "## ok (--workers 1)" in md and "## ok (--workers 2)" in md
    assert "## Scaling" in md
    assert "| ok | square | small | xneuro | 2 | 1.25 | 1.60x | 80% |" in md  # 2/(2*1.25)
    assert json.loads(json_path.read_text())["options"]["workers"] == [1, 2]


def test_timeout_stops_the_script(tmp_path):
    folder = _write(tmp_path, slow=SLOW_SCRIPT)
    run = run_script(folder / "bench_slow.py", timeout=1.0, echo=None)
    assert run.status == "timeout" and run.returncode is None
    assert run.wall_seconds < 30 and "timed out after 1 s" in run.reason


def test_selection_by_capability_and_unknown_names(tmp_path):
    folder = _write(tmp_path, fit=SKIP_SCRIPT, berg=SKIP_SCRIPT, mass=SKIP_SCRIPT)
    available = discover(folder)
    assert list(available) == ["berg", "fit", "mass"]
    assert select(available, None) == ["berg", "fit", "mass"]
    assert select(available, ["fit", "bench_berg.py", "fit"]) == ["fit", "berg"]
    with pytest.raises(InputError, match=r"unknown benchmark\(s\) \['nope'\].*'berg', 'fit'"):
        select(available, ["fit", "nope"])
    with pytest.raises(InputError, match="--path"):
        discover(tmp_path / "missing")
    with pytest.raises(InputError, match="holds no bench_"):
        discover(_write(tmp_path / "empty"))


def test_bad_options_are_errors_before_running(tmp_path):
    folder = _write(tmp_path, slow=SLOW_SCRIPT)
    assert parse_workers(None) == [None]
    assert parse_workers("2") == [2]
    assert parse_workers("1,2,2") == [1, 2]
    for bad in ("x", "-1", ","):
        with pytest.raises(InputError, match="--workers"):
            parse_workers(bad)
    with pytest.raises(InputError, match="--workers: was given together with --scheduler"):
        run_benchmarks(path=folder, workers="1,2", scheduler="tcp://x:8786", out=tmp_path)
    with pytest.raises(InputError, match="--size"):
        run_benchmarks(path=folder, size="huge", out=tmp_path)
    assert not list(tmp_path.glob("bench-*.json"))


BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_a_script_without_gpu_path_skips_cuda_cleanly():
    run = run_script(BENCHMARKS / "bench_io.py", device="cuda", echo=None)
    assert run.status == "skipped" and run.returncode == 0
    assert "no GPU path" in run.reason


@pytest.mark.gpu
def test_predict_runs_on_the_gpu():
    import shutil

    if shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA driver on this machine")
    run = run_script(BENCHMARKS / "bench_predict.py", device="cuda", repeat=1, echo=None)
    assert run.status == "ok", run.reason
    assert {r.device for r in run.rows if r.who == "xneuro"} >= {"cuda"}
