"""The range allocator of node IPAM: the cluster CIDR cut into equal node subnets (/24 by default, as
kube-controller-manager's --node-cidr-mask-size), handed out lowest first, each at most once.

Pure bookkeeping, rebuilt from the Nodes themselves on start-up (`occupy` every spec.podCIDR seen), so the
controller keeps no state of its own and survives restarts without handing a range out twice.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CIDRAllocator:
    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        try:
            self.cluster = ipaddress.ip_network(cluster_cidr)
        except ValueError as exc:
            raise ValueError(f"--cluster-cidr: {exc}") from None
        if not self.cluster.prefixlen <= mask_size <= self.cluster.max_prefixlen:
            raise ValueError(
                f"--node-cidr-mask-size: {mask_size} must be between the cluster CIDR's prefix "
                f"({self.cluster.prefixlen}) and {self.cluster.max_prefixlen}"
            )
        self.mask_size = mask_size
        self.used: set[Network] = set()

    @property
    def capacity(self) -> int:
        return int(2 ** (self.mask_size - self.cluster.prefixlen))

    def occupy(self, cidr: str) -> bool:
        """Record a range a Node already has; False when it is not one of ours (left alone)."""
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            return False
        if net.prefixlen != self.mask_size or not net.subnet_of(self.cluster):  # type: ignore[arg-type]
            return False
        self.used.add(net)
        return True

    def release(self, cidr: str) -> None:
        try:
            self.used.discard(ipaddress.ip_network(cidr))
        except ValueError:
            pass

    def allocate(self) -> str | None:
        """The lowest free node subnet (recorded as used), or None when the cluster CIDR is full."""
        for net in self.cluster.subnets(new_prefix=self.mask_size):
            if net not in self.used:
                self.used.add(net)
                return str(net)
        return None
