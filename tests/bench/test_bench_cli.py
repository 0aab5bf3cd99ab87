"""``xneuro bench`` and ``python -m benchmarks`` as commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from xneuro.cli import main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = '''"""A fake benchmark for the command tests."""
import argparse
from xneuro.bench.harness import Result, add_arguments, finish

args = add_arguments(argparse.ArgumentParser()).parse_args()
raise SystemExit(finish([Result("fake", "case", args.size, "xneuro", 0.5)], args))
'''


def test_xneuro_bench_list(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("predict", "fit", "decode", "io"):
        assert any(line.split()[0] == name for line in out.splitlines() if line.strip())


def test_xneuro_bench_unknown_name_is_a_clear_error(capsys):
    assert main(["bench", "nope"]) == 2
    err = capsys.readouterr().err
    assert "xneuro bench: names: unknown benchmark(s) ['nope']" in err and "predict" in err


def test_xneuro_bench_runs_and_reports(tmp_path, capsys):
    (tmp_path / "bench_fake.py").write_text(SCRIPT)
    out = tmp_path / "results"
    assert main(["bench", "fake", "--path", str(tmp_path), "--out", str(out), "--quiet",
                 "--size", "medium", "--repeat", "1"]) == 0
    printed = capsys.readouterr().out
    assert "[bench] fake: ok in" in printed and f"report: {out}" in printed
    assert "| fake | case | medium | xneuro | 0.5 |" in (out / "latest.md").read_text()


def test_python_m_benchmarks_list():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--list"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "predict" in done.stdout and "fit" in done.stdout
