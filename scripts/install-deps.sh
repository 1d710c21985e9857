#!/usr/bin/env bash
# Installs everything Skiff needs on a fresh Debian 12 machine with Python 3.11: the Debian packages the
# runtime and the tests use, uv, and the workspace's Python packages (one lock file, one .venv).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  busybox-static              # the test image is built from it (no network pulls)
  containernetworking-plugins # bridge, host-local, portmap, loopback in /usr/lib/cni
  iproute2 iptables           # the CNI plugins call them
  util-linux                  # mount, umount, nsenter
  docker-compose              # `make lint` checks docker-compose.yml statically (no engine needed)
  docker-registry skopeo      # the local cluster's image registry, and the pull tests
  runc crun containerd        # the other OCI runtimes and containerd: executor, interop tests, benchmarks
  nftables                    # skiff-proxy programs services with nft
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Prometheus and promtool check the shipped rules and scrape a live cluster in the tests. Without its
# recommends: those bring node-exporter, which would listen on every interface.
if ! dpkg -s prometheus >/dev/null 2>&1; then
  echo "installing Debian package: prometheus"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# `make test-compose` only: Docker's engine and mmdebstrap (the base image is built from Debian
# packages). Docker must never start with its defaults here (its bridge and iptables rules use address
# ranges this project must not touch): the daemon configuration turns both off before the package is
# installed, and policy-rc.d keeps the package from starting the daemon at all (tests start their own).
if [ "${1:-}" = "--compose" ]; then
  compose_missing=()
  for pkg in docker.io mmdebstrap; do
    dpkg -s "$pkg" >/dev/null 2>&1 || compose_missing+=("$pkg")
  done
  if [ ${#compose_missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${compose_missing[*]}"
    mkdir -p /etc/docker
    [ -f /etc/docker/daemon.json ] || echo '{"bridge": "none", "iptables": false, "ip6tables": false}' >/etc/docker/daemon.json
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${compose_missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  fi
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv"
  python3 -m pip install -q uv 2>/dev/null || python3 -m pip install -q --break-system-packages uv
fi
# --compile-bytecode installs .pyc files: this machine sets PYTHONDONTWRITEBYTECODE=1, so without them
# every Skiff process compiles each third-party module it imports from source, about half of its
# start-up CPU (bench/startup_bench.py, docs/benchmarks.md "Start-up CPU"). Here, not in pyproject.toml:
# there it would re-check every .pyc on each `uv run` (~0.3 s).
uv sync --frozen --quiet --compile-bytecode
# uv compiles site-packages (above) but not our own packages, installed editable;
# with PYTHONDONTWRITEBYTECODE=1 no process writes their .pyc either, so compile them once here: ~0.1
# CPU-s off every service start (docs/benchmarks.md, "Start-up CPU"). Stale ones are simply recompiled.
.venv/bin/python -m compileall -q -j 0 libs/*/src services/*/src cli/src >/dev/null
