# The OpenTelemetry collector of docker-compose: rotel (a small OTLP collector published on PyPI).
ARG BASE=skiff/base:bookworm
FROM ${BASE}
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /opt/rotel && /opt/rotel/bin/pip install --no-cache-dir rotel==0.0.1a15 \
 && ln -s /opt/rotel/lib/python3.11/site-packages/rotel/rotel-agent /usr/local/bin/rotel-agent \
 && useradd --system --uid 10001 --no-create-home rotel
USER 10001
ENTRYPOINT ["rotel-agent", "start"]
