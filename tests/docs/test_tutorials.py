"""Every code block of the tutorials in ``docs/tutorials/`` runs, and writes the figures shown.

The convention (also stated in ``docs/tutorials/index.md``):

- a block fenced as ```` ```python ```` is **run**: the blocks of a page run in
  order, in one namespace, in a fresh temporary working directory, with
  matplotlib's Agg backend;
- a block fenced as ```` ```{code-block} python ```` is **shown, not run**: code
  that needs what a test machine lacks (the real BERG download, a GPU, a cluster).

Each page is one test. After its blocks ran, every figure the page embeds
(``![...](figures/<name>.png)`` or ```` ```{figure} figures/<name>.png ````) must
have been written by them, relative to the working directory, and a committed
copy must sit next to the page (``docs/tutorials/figures/``) for the docs build.

To refresh the committed figures, run the tests with the folder to copy to::

    XNEURO_TUTORIAL_FIGURES=docs/tutorials/figures .venv/bin/python -m pytest tests/docs/test_tutorials.py
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "docs" / "tutorials"
PAGES = sorted(p for p in TUTORIALS.glob("*.md") if p.name != "index.md")

#: a run block: a line "```python" (nothing else on it) up to the closing "```"
RUN_BLOCK = re.compile(r"^```python[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
#: a figure the page embeds: a markdown image or a MyST figure directive
FIGURE = re.compile(r"(?:!\[[^\]]*\]\(|```\{figure\}[ \t]+)(?P<path>figures/[\w.-]+\.png)")
#: where to copy the written figures (the refresh command in the module notes)
REFRESH = "XNEURO_TUTORIAL_FIGURES"


def code_blocks(text: str) -> list[tuple[int, str]]:
    """The run blocks of a page: (line of the block's first code line, code)."""
    return [(text.count("\n", 0, m.start("code")) + 1, m.group("code"))
            for m in RUN_BLOCK.finditer(text)]


def embedded_figures(text: str) -> list[str]:
    """The figure paths a page embeds, relative to the page, in order, once each."""
    return list(dict.fromkeys(m.group("path") for m in FIGURE.finditer(text)))


def test_block_conventions():
    """The extraction finds run blocks and skips shown-only ones; every page has figures."""
    sample = ("text\n```python\na = 1\n```\n\n```{code-block} python\nb = 2\n```\n"
              "![fit](figures/fit.png)\n```{figure} figures/map.png\n:alt: map\n```\n")
    assert code_blocks(sample) == [(3, "a = 1\n")]
    assert embedded_figures(sample) == ["figures/fit.png", "figures/map.png"]
    assert len(PAGES) == 4, [p.name for p in PAGES]
    for page in PAGES:
        text = page.read_text()
        assert code_blocks(text), f"{page.name} has no ```python block"
        assert embedded_figures(text), f"{page.name} embeds no figure"
        assert "```py\n" not in text, f"{page.name}: use ```python (run) or ```{{code-block}}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial_runs(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    refresh = os.environ.get(REFRESH)
    refresh_dir = Path(refresh).resolve() if refresh else None
    text = page.read_text()
    figures = embedded_figures(text)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"tutorial_{page.stem.replace('-', '_')}"}
    timings = []
    try:
        for line, code in code_blocks(text):
            # pad so that tracebacks give the line in the .md file
            compiled = compile("\n" * (line - 1) + code, str(page), "exec")
            start, cpu = time.perf_counter(), time.process_time()
            exec(compiled, namespace)
            timings.append((line, time.perf_counter() - start, time.process_time() - cpu))
    finally:
        plt.close("all")
    slowest = ", ".join(f"line {n}: {s:.1f} s" for n, s, _ in sorted(timings, key=lambda t: -t[1])[:3])
    print(f"{page.name}: {len(timings)} blocks in {sum(t[1] for t in timings):.1f} s wall, "
          f"{sum(t[2] for t in timings):.1f} s CPU (slowest: {slowest})")
    missing = [f for f in figures if not (tmp_path / f).is_file()]
    assert not missing, f"{page.name} embeds {missing} but its code did not write them"
    if refresh_dir is not None:
        refresh_dir.mkdir(parents=True, exist_ok=True)
        for figure in figures:
            shutil.copyfile(tmp_path / figure, refresh_dir / Path(figure).name)
    uncommitted = [f for f in figures if not (page.parent / f).is_file()]
    assert not uncommitted, (f"{page.name}: no committed copy of {uncommitted}; refresh with "
                             f"{REFRESH}=docs/tutorials/figures")
