"""The documentation builds with no warnings, documents every public name, and its examples run.

- The Sphinx build (``python -m sphinx -W --keep-going``, the command of ``make
  docs``) runs once per session on a copy of ``docs/`` in a temporary folder,
  so the test leaves no generated files in the working tree. Any warning fails
  it: a broken ``{doc}``/``{ref}`` link, a reference to an xneuro object that
  is not documented (``docs/conf.py`` checks those in the pages' own text), a
  module that cannot be imported, a malformed docstring.
- The object inventory of that build must hold every name in the ``__all__``
  of the public modules (or the same object under another public name) and
  every method of every accessor xneuro registers on the xarray types: a new
  public function without an entry in ``docs/api/`` fails here.
- The ```` ```python ```` blocks of the hand-written pages run, in order, in one
  namespace per page, in a temporary working directory (```` ```{code-block} ````
  blocks are shown only, as in the tutorials).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

#: Public modules whose ``__all__`` the API reference must cover.
PUBLIC_MODULES = (
    "xneuro", "xneuro.hrf", "xneuro.encoding", "xneuro.dnn", "xneuro.rsa", "xneuro.berg",
    "xneuro.mass", "xneuro.io", "xneuro.datasets", "xneuro.bench",
    "xneuro.core.schema", "xneuro.core.validate", "xneuro.core.store", "xneuro.core.chunks",
    "xneuro.core.jobs", "xneuro.core.parallel", "xneuro.core.progress", "xneuro.core.backend",
    "xneuro.core.options", "xneuro.core.provenance", "xneuro.core.errors", "xneuro.core.info",
    "xneuro.core.log",
)

#: Names in ``__all__`` that are not API entries: the package's version string and
#: its submodules; strings (dim-name constants, listed in a table on the core page).
NOT_API = {"__version__"}

#: Pages written by hand whose ```python blocks run here (the tutorials have their own test).
EXAMPLE_PAGES = ("index.md", "getting-started.md", "coming-from.md", "cluster.md",
                 "benchmarks.md")

#: a run block: a line "```python" (nothing else on it) up to the closing "```"
RUN_BLOCK = re.compile(r"^```python[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

#: Most seconds the build may take before the test gives up.
BUILD_TIMEOUT = 600


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory) -> Path:
    """Build a copy of docs/ with warnings as errors; return the HTML folder."""
    root = tmp_path_factory.mktemp("docs")
    source, out = root / "source", root / "html"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated",
                                                                   ".ipynb_checkpoints"))
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-j", "auto", "-q",
               "-b", "html", str(source), str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                          cwd=root)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        pytest.fail(f"the docs build failed (exit {done.returncode}, {seconds:.0f} s); "
                    f"fix these warnings:\n{done.stderr}\n{done.stdout[-3000:]}",
                    pytrace=False)
    return out


def inventory(html: Path) -> dict[str, str]:
    """Names of the build's ``objects.inv`` and their roles (``py:function``...)."""
    header, _, body = html.joinpath("objects.inv").read_bytes().partition(
        b"compressed using zlib.\n")
    assert header.startswith(b"# Sphinx inventory version 2")
    entries = {}
    for line in zlib.decompress(body).decode().splitlines():
        name, role, *_ = line.split(" ", 4)
        entries[name] = role
    return entries


def resolve(name: str) -> object:
    """The object a dotted name refers to (longest importable module, then attributes)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(name)


def is_api(obj: object) -> bool:
    """Whether a public name is an entry of the API reference (not a module, alias or string)."""
    if isinstance(obj, (ModuleType, str)):
        return False
    return "typing" not in (getattr(obj, "__module__", None), type(obj).__module__)


@pytest.mark.slow
def test_docs_build_has_no_warnings(built_docs):
    """The whole site built (the fixture fails with the warnings otherwise)."""
    for page in ("index", "getting-started", "coming-from", "cluster", "benchmarks",
                 "design", "tutorials/index", "api/index", "api/accessors"):
        assert built_docs.joinpath(f"{page}.html").is_file(), page


@pytest.mark.slow
def test_every_public_name_is_documented(built_docs):
    entries = inventory(built_docs)
    documented = set()
    for name, role in entries.items():
        if role.startswith("py:"):
            with contextlib.suppress(ImportError, AttributeError):
                documented.add(id(resolve(name)))
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            if name in NOT_API:
                continue
            obj = getattr(module, name)
            if not is_api(obj):
                continue
            if f"{module_name}.{name}" not in entries and id(obj) not in documented:
                missing.append(f"{module_name}.{name}")
    assert not missing, ("public names missing from the API reference; add each to the "
                         f"autosummary list of its page in docs/api/: {missing}")


@pytest.mark.slow
def test_every_accessor_method_is_documented(built_docs):
    import xarray as xr

    import xneuro.accessors

    entries = inventory(built_docs)
    expected = []
    for cls in (xr.DataArray, xr.Dataset, xr.DataTree):
        for attr in dir(cls):
            accessor = getattr(cls, attr, None)  # a registered accessor gives its class here
            if not (inspect.isclass(accessor)
                    and accessor.__module__ == xneuro.accessors.__name__):
                continue
            expected.append(f"xarray.{cls.__name__}.{attr}")
            expected += [f"xarray.{cls.__name__}.{attr}.{method}" for method in vars(accessor)
                         if not method.startswith("_") and callable(vars(accessor)[method])]
    assert len(expected) > 30, expected
    missing = [name for name in expected if name not in entries]
    assert not missing, ("accessor methods missing from docs/api/accessors.rst (add them "
                         f"under their xarray type): {missing}")


def test_block_extraction():
    """Run blocks are found; shown-only blocks are skipped."""
    sample = "text\n```python\na = 1\n```\n\n```{code-block} python\nb = 2\n```\n"
    assert [m.group("code") for m in RUN_BLOCK.finditer(sample)] == ["a = 1\n"]


@pytest.mark.parametrize("page", EXAMPLE_PAGES)
def test_page_examples_run(page, tmp_path, monkeypatch):
    text = DOCS.joinpath(page).read_text()
    blocks = [(text.count("\n", 0, m.start("code")) + 1, m.group("code"))
              for m in RUN_BLOCK.finditer(text)]
    if page == "cluster.md":
        assert not blocks, "cluster.md is illustrative: fence its code as ```{code-block}"
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{Path(page).stem}"}
    for line, code in blocks:
        compiled = compile("\n" * (line - 1) + code, str(DOCS / page), "exec")
        exec(compiled, namespace)
