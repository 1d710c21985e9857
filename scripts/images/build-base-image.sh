#!/usr/bin/env bash
# Builds skiff/base:bookworm, the one base image every Skiff image starts from, from Debian packages
# with mmdebstrap (there is no image hub here): Python, the node's networking tools and CNI plugins,
# the registry and image tools, and Prometheus. Idempotent: an existing image is kept (--force rebuilds).
#   DOCKER_HOST=unix:///path/docker.sock scripts/images/build-base-image.sh [--force]
# The image holds no device nodes: Skiff's runtime refuses them in image layers (the runtime gives a
# container its devices), so images built on this base run in Skiff pods as well as in Docker.
#   SKIFF_BASE_IMAGE=TAG scripts/images/build-base-image.sh --from IMAGE
# makes TAG from an existing IMAGE's filesystem without its device nodes (a base built before this
# rule), offline, instead of bootstrapping Debian again.
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
ENV_CHANGE='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
if [ "${1:-}" = "--from" ]; then
  source_image="${2:?--from needs an image}"
  container="$(docker create "$source_image" /bin/true)"
  trap 'docker rm -f "$container" >/dev/null' EXIT
  docker export "$container" | python3 "$(dirname "$0")/strip-device-nodes.py" | docker import --change "$ENV_CHANGE" - "$TAG"
  echo "built $TAG from $source_image"
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
mmdebstrap --quiet --variant=minbase --skip=output/dev --include="$include" "${hooks[@]}" bookworm "$tarball" http://deb.debian.org/debian
docker import --change "$ENV_CHANGE" "$tarball" "$TAG"
echo "built $TAG"
