# redline needs Python >= 3.12 (mitmproxy 12 and its patched h11 require it).
# PYTHON may be given explicitly: make install PYTHON=/path/to/python3.12
VENV := .venv
BIN := $(VENV)/bin
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
CANDIDATES := python3.13 python3.12 $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3) \
	$(wildcard $(PYENV_ROOT)/versions/3.12*/bin/python3) /usr/bin/python3.13 /usr/bin/python3.12 python3
PYTHON ?= $(shell for p in $(CANDIDATES); do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)

.PHONY: install lock demo test lint imports bench docs clean

install: $(VENV)/.installed

# Exactly the versions and file hashes of requirements-dev.lock (redline's dependencies, the
# dev tools and the build backend): pip refuses any file whose hash differs. Then redline
# itself, with no dependency resolution and no build environment fetched on the side.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	@if [ -z "$(PYTHON)" ]; then \
		echo "redline needs Python 3.12 or newer and none was found."; \
		echo "Install one (e.g. 'apt-get install python3.13' or 'pyenv install 3.12') or run: make install PYTHON=/path/to/python3.12"; \
		exit 2; fi
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	@# setuptools says on every editable install of a package-dir layout that it is one; only that is hushed.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# Re-resolve both lock files from pyproject.toml (the newest versions it allows, every file's
# hash) for the Python of the venv; commit them. docs/development.md says when.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --upgrade \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	--build-deps-for editable

lock: install
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

# The whole loop offline, against a stand-in model: record, flag, replay, report.
demo: install
	$(BIN)/redline demo

# A run that collects no test fails (pytest exits 5): a green run that ran nothing is a defect.
test: install
	$(BIN)/python -m pytest

# mypy and import-linter find modules by their import names, and the parts live in top-level
# folders that pyproject maps into `redline`; so they read a tree of links shaped like the
# installed package.
TYPECHECK := .typecheck

$(TYPECHECK): FORCE
	@rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/redline
	@for f in redline/*; do ln -s ../../$$f $(TYPECHECK)/redline/; done
	@for p in transcripts proxy analyzers replay; do ln -s ../../$$p $(TYPECHECK)/redline/$$p; done

lint: install $(TYPECHECK)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(TYPECHECK) && ../$(BIN)/mypy redline
	cd $(TYPECHECK) && ../$(BIN)/lint-imports --no-cache ../pyproject.toml

# The import contracts of pyproject.toml (layers, surfaces, no circles) alone: under a second.
imports: install $(TYPECHECK)
	cd $(TYPECHECK) && ../$(BIN)/lint-imports --no-cache ../pyproject.toml

.PHONY: FORCE
FORCE:

# Every benchmark; figures printed and written to bench/results.json with the machine's facts.
bench: install
	$(BIN)/python bench/run.py

# The parts of docs/ read from the code (each command's options, the built-in checks); the rest of
# each page is prose. tests/test_docs.py fails while a page is not what this writes.
docs: install
	$(BIN)/python docs/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(TYPECHECK)
