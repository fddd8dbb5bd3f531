# The one entry point: `make lab` to use alpaca_nb, `make test` to check it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: lab dashboard test lint bench sim clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# JupyterLab on notebooks/, bound to 127.0.0.1; it prints the URL (with its token) to open.
# (As root, as on these machines, JupyterLab needs --allow-root.)
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 --no-browser \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# notebooks/06_dashboard.ipynb as an app (Voilà: no code shown), on 127.0.0.1; it prints the URL.
# Without keys it runs on the built-in simulator (demo mode), with APCA_* keys on your paper account.
dashboard: $(STAMP)
	$(BIN)/voila notebooks/06_dashboard.ipynb --Voila.ip=127.0.0.1 --Voila.port=$${PORT:-8866} --no-browser

lint: $(STAMP)
	$(BIN)/ruff check alpaca_nb tests benchmarks tools
	$(BIN)/ruff format --check alpaca_nb tests benchmarks tools
	$(BIN)/mypy

# Unit/integration tests and the notebooks (nbval), then the browser tests. The first part runs on three
# workers, a file per worker (pytest-xdist): its longest tests mostly wait (fault campaigns, a quiet minute,
# an environment build). Tests that measure rates (marked `serial`) run alone, with the browser tests.
# pytest exit code 5 (nothing collected) is a failure.
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
WORKERS ?= 3
test: lint
	@bash .ci/ensure-chromium
	$(BIN)/python -m pytest tests notebooks $(NBVAL) -m "not browser and not serial" -n $(WORKERS) \
	  --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; [ $$rc -eq 0 ] || exit $$rc
	$(BIN)/python -m pytest tests -m "browser or serial" $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/bars.py
	$(BIN)/python benchmarks/stream.py
	$(BIN)/python benchmarks/crypto.py
	$(BIN)/python benchmarks/options.py
	$(BIN)/python benchmarks/bar_store.py
	$(BIN)/python benchmarks/sim_throughput.py
	$(BIN)/python benchmarks/browser_frames.py

sim: $(STAMP)
	$(BIN)/python -m alpaca_nb.sim --port $${PORT:-8765} --seed $${SEED:-7}

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
