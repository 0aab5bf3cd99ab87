# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch; users outside this Makefile may install any recent torch.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: demo test lint docs env clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[all,test,docs]"
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/xneuro demo

test: $(STAMP)
	$(BIN)/ruff check xneuro tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check xneuro tests benchmarks

# The documentation, every Sphinx warning an error, into docs/_build/html.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -j auto -b html docs docs/_build/html

clean:
	rm -rf $(VENV) xneuro-demo .pytest_cache .ruff_cache
