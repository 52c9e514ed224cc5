# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# The Lambda runtime is Python 3.13 (arm64); use it where it exists, else fall back to python3.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
# The handler's code sits at Lambda's root (src/handler); the sandbox is a package under src.
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)/src/handler:$(CURDIR)
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13 python3; do \
            if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: test lint typecheck unit template demo bench bench-quick build clean

$(STAMP): requirements-dev.txt src/handler/requirements.txt
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) -V 2>&1))"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r src/handler/requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# aws-sam-cli pins its own boto3 and cfn-lint; it gets a venv of its own so it never moves moto's versions.
$(SAM_STAMP): requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAM_VENV)/bin/python -m pip install -q -r requirements-sam.txt
	touch $(SAM_STAMP)

# checkov has its own large dependency tree: a third venv keeps it from moving the others.
$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy src/handler src/sandbox

security: $(STAMP)
	$(VENV)/bin/bandit -q -r src -c pyproject.toml

template: $(SAM_STAMP) $(CHECKOV_STAMP)
	$(SAM_VENV)/bin/cfn-lint template.yaml examples/*.yaml
	$(SAM_VENV)/bin/sam validate --lint --template-file template.yaml --region us-east-1
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

unit: $(STAMP)
	$(PY) -m pytest

test: lint typecheck security template build unit

demo: $(STAMP)
	$(PY) -m sandbox demo

# sam looks for python3.13 on PATH (the runtime's version); the SAM venv's interpreter is one when 3.13 exists.
build: $(SAM_STAMP)
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam build --template-file template.yaml

bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam
