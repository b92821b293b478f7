# Stock Update Pipeline. `make demo` and `make test` build everything they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 like the Lambda runtime: a pyenv 3.12 if there is one, else python3.12 on PATH, else python3.
PYTHON_BOOT ?= $(shell for c in "env PYENV_VERSION=3.12.1 python3.12" python3.12 python3; do \
	$$c -c 'import sys; assert sys.version_info >= (3, 12); print(sys.executable)' 2>/dev/null && break; done)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
DOCS_VENV := .venv-docs
# sam build looks for python3.12 on PATH for the python3.12 runtime.
SAM_ENV := PATH="$(dir $(PYTHON_BOOT)):$$PATH" SAM_CLI_TELEMETRY=0
export PYTHONPATH := src

.PHONY: help browser venv docs redrive demo test unit integration e2e lint build deploy preflight smoke report up validate forecast vendor diagram bench scale chaos cost openapi clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON_BOOT)" || { echo "Python 3.12 or newer is needed (pyenv install 3.12)"; exit 1; }
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON_BOOT) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON_BOOT) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

$(DOCS_VENV)/.installed: requirements-docs.txt
	$(PYTHON_BOOT) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install --quiet --upgrade pip
	$(DOCS_VENV)/bin/pip install --quiet -r requirements-docs.txt
	touch $@

# Debian's Chromium for the browser tests (the report page, the console): installed here because no registry
# download of a test tool's own browser works on a locked-down machine.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium (Debian/Ubuntu package chromium) for the browser tests"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y --no-install-recommends chromium >/dev/null || \
	{ $(if $(filter 0,$(shell id -u)),,sudo) apt-get update >/dev/null && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y --no-install-recommends chromium >/dev/null; }

browser: $(CHROMIUM) ## install Debian's Chromium for the browser tests

venv: $(VENV)/.installed ## create the virtual environment

demo: $(VENV)/.installed ## run the whole pipeline on the local stack and print a summary
	$(PY) -m local_aws.demo $(ARGS)

test: $(VENV)/.installed $(CHROMIUM) ## unit, integration and end-to-end tests (with a headless browser)
	$(PY) -m pytest -q -n auto --dist loadgroup --no-loadscope-reorder

unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest -q tests/integration

e2e: $(VENV)/.installed $(CHROMIUM)
	$(PY) -m pytest -q tests/e2e

ASL_VALIDATOR := asl-validator@4.0.0

docs: $(DOCS_VENV)/.installed ## the documentation site (MkDocs, Material) into site/, strictly: a broken link or anchor fails
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict --quiet

lint: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed docs ## ruff, cfn-lint + serverless rules, sam validate --lint, checkov, parliament on every IAM policy, ASL validation, the docs site
	$(VENV)/bin/ruff check src tests scripts benchmarks
	$(VENV)/bin/ruff format --check src tests scripts benchmarks
	$(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	$(SAM_ENV) $(SAM) validate --lint --region eu-central-1
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --quiet --compact --skip-download
	$(PY) scripts/lint_policies.py
	@# the definitions take the partition from the template (DefinitionSubstitutions); validated as in the aws one
	for f in src/statemachines/*.asl.json; do tmp=$$(mktemp --suffix=.asl.json) && sed 's/\$${Partition}/aws/g' $$f > $$tmp \
		&& npx --yes $(ASL_VALIDATOR) --json-path $$tmp && rm -f $$tmp || exit 1; done

build: $(VENV)/.installed $(SAM_VENV)/.installed ## sam build (python3.12, arm64) and a size check of every function package
	$(SAM_ENV) $(SAM) build --region eu-central-1
	@$(PY) scripts/check_package_size.py .aws-sam/build 50 docs/layers.json

deploy: $(VENV)/.installed build ## preflight, then sam deploy (--guided until samconfig.toml exists; needs AWS credentials)
	@if [ -f samconfig.toml ]; then $(PY) -m stockctl preflight && $(SAM_ENV) $(SAM) deploy; \
	else echo "no samconfig.toml: guided deploy (copy samconfig.example.toml to skip the questions)"; \
	$(SAM_ENV) $(SAM) deploy --guided; fi

report: $(VENV)/.installed ## HTML page of plots from the lake: local stack of make up (ARGS="--stack NAME" for AWS)
	$(PY) -m stockctl lake-report $(if $(ARGS),$(ARGS),--local)

smoke: $(VENV)/.installed ## prove a stack works end to end and remove what it made: the `make up` stack (ARGS="--stack NAME" for AWS)
	$(PY) -m stockctl smoke $(if $(ARGS),$(ARGS),--local --wait 60 --poll 0.2)

redrive: $(VENV)/.installed ## dead-letter messages back to their source: ARGS="--queue ingest|alerts|history|schedule --stack NAME" (or --local)
	$(PY) -m stockctl redrive $(ARGS)

preflight: $(VENV)/.installed ## check samconfig.toml's pandas layer (region, version, runtime, architecture) in AWS
	$(PY) -m stockctl preflight $(ARGS)

up: $(VENV)/.installed ## run the local stack in the foreground; writes .local-stack.json (ARGS="--port 4570" if 4566 is taken)
	$(PY) -m local_aws up $(ARGS)

validate: $(VENV)/.installed ## start the nightly validation now and print its e-mail (local stack of make up; ARGS="--stack NAME" for AWS)
	$(PY) -m stockctl validate --wait $(if $(ARGS),$(ARGS),--local --poll 0.5)

forecast: $(VENV)/.installed ## compute the sales rates now (ARGS="--digest" sends today's digest; ARGS="--stack NAME" for AWS)
	$(PY) -m stockctl forecast --wait $(if $(filter --stack%,$(ARGS)),$(ARGS),--local --poll 0.5 $(ARGS))

# uPlot (MIT), the console's chart library: served from the console's own files (CSP script-src 'self', no CDN).
# The copies are committed; this refreshes them from npm, pinned and checked.
UPLOT_VERSION := 1.6.31
UPLOT_JS_SHA256 := 2d27e8ad3d228164525ce213f9dc716f39b4e3aee0cc773fb3491c96cf4921a2
UPLOT_CSS_SHA256 := df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04
vendor: ## refresh the console's copy of uPlot from npm (pinned version, checked sha256)
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz \
	&& echo "$(UPLOT_JS_SHA256)  package/dist/uPlot.iife.min.js" | sha256sum -c - \
	&& echo "$(UPLOT_CSS_SHA256)  package/dist/uPlot.min.css" | sha256sum -c - \
	&& cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css $(CURDIR)/src/stock_pipeline/console/ \
	&& cp package/LICENSE $(CURDIR)/src/stock_pipeline/console/uPlot.LICENSE && rm -rf $$tmp

diagram: $(VENV)/.installed ## img/architecture.png from scripts/diagram.py (needs Debian's graphviz)
	@command -v dot >/dev/null || { apt-get update -qq && apt-get install -y -qq graphviz; }
	$(PY) scripts/diagram.py

bench: $(VENV)/.installed ## benchmarks (never part of make test)
	$(PY) -m benchmarks $(ARGS)

scale: $(VENV)/.installed ## a large tenant's workload on the local stack, DynamoDB's units per partition key -> docs/scale.md
	$(PY) -m local_aws.scale $(ARGS)

chaos: $(VENV)/.installed ## the reference workload clean, then under injected faults; exits 1 on a violated invariant (ARGS="--seed N --rate 0.05")
	$(PY) -m local_aws.chaos $(ARGS)

cost: $(VENV)/.installed ## dollars per million stock updates from the benchmark figures -> docs/cost.md
	$(PY) -m benchmarks.cost

openapi: $(VENV)/.installed ## docs/openapi.json (reports) and docs/console-openapi.json (tests keep them in sync)
	$(PY) -m stock_pipeline.reports_openapi > docs/openapi.json
	$(PY) -m stock_pipeline.console_openapi > docs/console-openapi.json

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache .local-stack.json
