# etcd for the Helm chart's etcd StatefulSet, from Debian's etcd-server package (no image hub here, and
# no quay.io): the same base as every Skiff image. Build from the repository root:
#   docker build --network=host -f images/etcd.Dockerfile -t skiff/etcd:bookworm .
ARG BASE=skiff/base:bookworm
FROM ${BASE}
# bookworm's etcd-server (3.4.23): the chart's default etcd.image.tag says "3.4".
ARG ETCD_VERSION=3.4.23-4+b4
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "etcd-server=${ETCD_VERSION}" \
 && rm -rf /var/lib/apt/lists/* \
 && (id -u skiff >/dev/null 2>&1 || useradd --system --uid 10001 --no-create-home skiff) \
 && mkdir -p /var/lib/etcd && chown 10001 /var/lib/etcd && chmod 700 /var/lib/etcd
USER 10001
ENTRYPOINT ["etcd"]
