# MCP Live: one command per task. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.DEFAULT_GOAL := help
.PHONY: help run test lint bench chromium postgresql openssl node clean screenshot conformance wheel compose

help: ## List the tasks
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

# What running needs, nothing more: the test tools come with `make test` (which installs both).
$(RUN_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

run: $(RUN_STAMP) ## Start the dashboard (and the bundled MCP server) on http://127.0.0.1:8000
	$(PY) -m webapp $(ARGS)

wheel: $(RUN_STAMP) ## Build the wheel into dist/ (install it anywhere with pip, pipx or uv tool; it gives `mcp-live`)
	$(PY) -m pip wheel --no-deps --quiet -w dist .
	@ls dist/mcp_live-*.whl

compose: ## Bring up the deployment example (PostgreSQL, 2 web, 2 workers, the demo server, Caddy) on :8080
	@if command -v docker >/dev/null; then docker compose up --build --wait && docker compose ps; \
	elif command -v podman >/dev/null; then podman compose up --build -d && podman compose ps; \
	else echo "make compose needs docker (with compose) or podman. See docs/deploying.md" >&2; exit 1; fi

chromium: ## Make sure Debian's chromium is installed (for the browser tests)
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "The browser tests need Debian's chromium at /usr/bin/chromium. Install it: sudo apt-get install chromium" >&2; exit 1; fi

postgresql: ## Make sure Debian's PostgreSQL server binaries are there (the tests start their own, throwaway server)
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else echo "The PostgreSQL tests need Debian's postgresql binaries. Install them: sudo apt-get install postgresql" >&2; exit 1; fi

openssl: ## Make sure openssl is there (the HTTPS test makes a throwaway certificate with it)
	@if command -v openssl >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; \
	else echo "The HTTPS test needs openssl. Install it: sudo apt-get install openssl" >&2; exit 1; fi

node: ## Make sure Node.js and npm are there (the tests run the npm server-everything, installed once into ~/.cache/mcp-live/npm)
	@if command -v node >/dev/null && command -v npm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	else echo "The server-everything tests need Node.js and npm. Install them: sudo apt-get install nodejs npm" >&2; exit 1; fi

lint: $(STAMP) ## ruff and mypy --strict
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

test: $(STAMP) chromium postgresql openssl node lint ## Lint, then the whole test suite (unit, integration, browser)
	$(VENV)/bin/pytest $(ARGS)

conformance: $(STAMP) node ## The official MCP conformance suite's auth scenarios, the dashboard as the client (npm, cached)
	$(PY) -m tests.conformance

bench: $(STAMP) chromium postgresql ## Speed of the relay on both backends, written to docs/benchmarks.md (not a test)
	$(PY) -m tests.bench $(ARGS)

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) data dist build .pytest_cache .mypy_cache .ruff_cache

screenshot: $(STAMP) chromium ## Regenerate the README's pictures: docs/screenshot.png, -dark and -phone
	$(PY) -m docs.screenshot
