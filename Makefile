# The README names these targets. `make demo` and `make test` build .venv from the dev lock first
# (requirements/dev.txt: the runtime lock the image installs, plus the test and lint tools).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export GX_ANALYTICS_ENABLED := False
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: venv demo test lint typecheck unit bench airflow lock clean sandbox image image-offline image-check

venv: $(STAMP)

LOCKS := requirements/runtime.txt requirements/dev.txt

$(STAMP): $(LOCKS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade >/dev/null
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements/dev.txt
	$(PY) -c "import sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()['purelib'], 'crm_books.pth').write_text('$(CURDIR)/plugins\n$(CURDIR)\n')"
	$(VENV)/bin/uv pip check --python $(PY)
	@touch $(STAMP)

# The runtime lock first: dev.in is constrained by runtime.txt, so both share every runtime pin.
lock:
	$(VENV)/bin/uv pip compile --quiet --python-version 3.11 requirements/runtime.in -o requirements/runtime.txt
	$(VENV)/bin/uv pip compile --quiet --python-version 3.11 requirements/dev.in -o requirements/dev.txt

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP) lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

# The fast tier: no PostgreSQL, no Airflow processes, no browser (PYTEST_ARGS adds options).
UNIT_TESTS := tests/unit tests/dags
unit: $(STAMP)
	$(PY) -m pytest -m "not postgres and not slow" $(UNIT_TESTS) $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m devtools.demo

bench: $(STAMP)
	$(PY) -m devtools.bench --records $${N:-100000}

airflow: $(STAMP)
	$(PY) -m devtools.local_airflow

sandbox: $(STAMP)
	$(PY) -m zoho_sandbox serve --port $${PORT:-8765} --seed 7 --accounts 1000 --contacts 3000 --deals 500

# The product images (docs/image.md), where a Docker engine runs: `airflow` for every Airflow
# service, `sandbox` for crm-sandbox, tagged as docker-compose.yaml names them. The build's pip
# reaches PyPI through the host's network. AIRFLOW_IMAGE_REPO picks the base image's repository.
AIRFLOW_VERSION := $(shell sed -n 's/^apache-airflow==//p' requirements/runtime.txt)
AIRFLOW_IMAGE_REPO ?= apache/airflow
IMAGE ?= crm-books-airflow:$(AIRFLOW_VERSION)
SANDBOX_IMAGE ?= crm-books-sandbox:$(AIRFLOW_VERSION)
DOCKER_BUILD := docker build --network host --build-arg AIRFLOW_IMAGE_REPO=$(AIRFLOW_IMAGE_REPO) \
	--build-arg AIRFLOW_VERSION=$(AIRFLOW_VERSION)

image:
	$(DOCKER_BUILD) --target airflow --tag $(IMAGE) .
	$(DOCKER_BUILD) --target sandbox --tag $(SANDBOX_IMAGE) .

# No registry: the same images on a local stand-in for apache/airflow (debootstrap + docker import).
STANDIN_REPO ?= crm-books/airflow-standin
image-offline:
	STANDIN_REPO=$(STANDIN_REPO) devtools/image/build_base.sh $(AIRFLOW_VERSION)
	$(MAKE) image AIRFLOW_IMAGE_REPO=$(STANDIN_REPO)

# Runs the image: the three DAGs parse without import errors, no dev tools inside.
image-check: $(STAMP)
	CRM_BOOKS_IMAGE=$(IMAGE) CRM_BOOKS_SANDBOX_IMAGE=$(SANDBOX_IMAGE) $(PY) -m pytest tests/image $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data .airflow .pytest_cache .mypy_cache .ruff_cache
