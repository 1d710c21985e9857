# Skiff's entry points. `make up` and `make test` do all set-up on a fresh Debian 12 machine.
SHELL := /bin/bash
UV ?= uv
SKIFF := .venv/bin/skiff

.PHONY: install up down test test-slow test-e2e test-compose lint proto proto-check bench clean

install:  ## Debian packages, uv and the workspace's Python packages
	@scripts/install-deps.sh

up: install  ## install, then start a local one-node cluster
	@$(SKIFF) up

down:  ## stop the local cluster and clean up mounts, cgroups, namespaces and bridges
	@$(SKIFF) down

test: install  ## unit, integration (real etcd) and end-to-end (real cluster) tests; needs root
	$(UV) run --frozen pytest

test-slow: install  ## the longest end-to-end walkthroughs (my-nginx, batch, Services, DNS, kubectl, HPA, node lifecycle, multi-node network, HA control plane)
	$(UV) run --frozen pytest -m slow

test-e2e: install
	$(UV) run --frozen pytest -m e2e

test-compose: install  ## docker-compose up for real: base image from Debian packages, build, run, a pod (minutes)
	@scripts/install-deps.sh --compose
	$(UV) run --frozen pytest -m compose tests/compose tests/helm -v

lint: install  ## generated code fresh, protos tidy, lint, layering, types
	$(UV) run --frozen python scripts/gen_protos.py --check
	$(UV) run --frozen buf lint
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports
	$(UV) run --frozen mypy --strict libs/skiff-common/src libs/skiff-client/src
	$(UV) run --frozen mypy --strict --warn-unused-ignores services/runtime/src
	$(UV) run --frozen mypy --strict --warn-unused-ignores services/kubelet/src
	$(UV) run --frozen mypy --strict --warn-unused-ignores services/apiserver/src
	$(UV) run --frozen mypy --strict --warn-unused-ignores services/proxy/src
	$(UV) run --frozen mypy --strict --warn-unused-ignores services/scheduler/src
	$(UV) run --frozen mypy --strict --warn-unused-ignores services/controllers/src
	MYPYPATH=libs/skiff-client/src $(UV) run --frozen mypy --strict --warn-unused-ignores services/dns/src
	MYPYPATH=libs/skiff-client/src $(UV) run --frozen mypy --strict --warn-unused-ignores services/metrics/src
	$(UV) run --frozen hadolint images/Dockerfile images/*.Dockerfile
	docker-compose -f docker-compose.yml config --quiet
	$(UV) run --frozen python monitoring/dashboards/build.py --check
	promtool check rules monitoring/prometheus/rules/*.rules.yml

proto:  ## regenerate libs/skiff-api from proto/
	$(UV) run --frozen python scripts/gen_protos.py

proto-check:
	$(UV) run --frozen python scripts/gen_protos.py --check

bench: install  ## benchmarks (not tests): each prints its figures beside its reference
	@for b in bench/*_bench.py; do echo "== $$b"; $(UV) run --frozen python $$b || exit 1; done
