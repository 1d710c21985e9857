"""Names outside the cluster domain go to the node's upstream resolvers, read from a resolv.conf.

The query is passed on as the client sent it (EDNS included) over UDP, retried over TCP when the upstream
truncates, and each nameserver is tried in turn until one answers, like CoreDNS's ``forward`` plugin
with ``policy sequential``. A nameserver that is skiff-dns itself is skipped, so a resolv.conf that
points back at the cluster DNS cannot make a query loop (CoreDNS's ``loop`` plugin guards the same).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
from skiff_common.observability import get_logger

from skiff_dns import metrics

log = get_logger(__name__)


def read_nameservers(path: str) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf, in order; [] when the file is missing or empty."""
    if not path:
        return []
    try:
        text = Path(path).read_text()
    except OSError as exc:
        log.warning("forward.resolv_conf_unreadable", path=path, error=str(exc))
        return []
    out = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                out.append(str(ipaddress.ip_address(words[1].split("%", 1)[0])))
            except ValueError:
                log.warning("forward.bad_nameserver", path=path, value=words[1])
    return out


class Forwarder:
    def __init__(
        self,
        nameservers: list[str],
        *,
        port: int = 53,
        timeout: float = 2.0,
        exclude: frozenset[tuple[str, int]] | set[tuple[str, int]] = frozenset(),
    ) -> None:
        self.nameservers = [ns for ns in nameservers if (ns, port) not in exclude]
        self.port = port
        self.timeout = timeout

    async def forward(self, query: dns.message.Message) -> dns.message.Message:
        """The first upstream's answer, or SERVFAIL when none answers."""
        for ns in self.nameservers:
            metrics.forward_requests.get(f"{ns}:{self.port}").inc()
            try:
                response = await dns.asyncquery.udp(
                    query, ns, timeout=self.timeout, port=self.port, ignore_unexpected=True
                )
                if response.flags & dns.flags.TC:
                    response = await dns.asyncquery.tcp(query, ns, timeout=self.timeout, port=self.port)
                return response
            except (dns.exception.DNSException, OSError) as exc:
                log.warning(
                    "forward.upstream_failed", upstream=f"{ns}:{self.port}", error=str(exc) or type(exc).__name__
                )
        failed = dns.message.make_response(query)
        failed.set_rcode(dns.rcode.SERVFAIL)
        return failed
