#!/usr/bin/env bash
# Builds skiff/base:bookworm, the one base image every Skiff image starts from, from Debian packages
# with mmdebstrap (there is no image hub here): Python, the node's networking tools and CNI plugins,
# the registry and image tools, and Prometheus. Idempotent: an existing image is kept (--force rebuilds).
#   DOCKER_HOST=unix:///path/docker.sock scripts/images/build-base-image.sh [--force]
set -euo pipefail
TAG="${SKIFF_BASE_IMAGE:-skiff/base:bookworm}"
PACKAGES=(
  python3 python3-venv ca-certificates       # every Skiff program
  iproute2 iptables nftables util-linux      # the node: runtime, kubelet, proxy
  containernetworking-plugins busybox-static # pod networking; the busybox image is built from it
  docker-registry skopeo                     # the cluster's image registry and its seeding
  prometheus libpython3.11                   # monitoring in docker-compose (rotel, the collector, links libpython)
)
if [ "${1:-}" != "--force" ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG exists"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing: apt-get install mmdebstrap" >&2; exit 1; }
tarball="$(mktemp --suffix=.tar)"
trap 'rm -f "$tarball"' EXIT
include="$(IFS=,; echo "${PACKAGES[*]}")"
# The image trusts what this machine trusts: extra CAs in /usr/local/share/ca-certificates (a company
# proxy in front of PyPI, for instance) are copied in, so builds from the image reach the same registries.
hooks=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  hooks=(--customize-hook='copy-in /usr/local/share/ca-certificates /usr/local/share'
         --customize-hook='chroot "$1" update-ca-certificates')
fi
mmdebstrap --quiet --variant=minbase --include="$include" "${hooks[@]}" bookworm "$tarball" http://deb.debian.org/debian
docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" "$TAG"
echo "built $TAG"
