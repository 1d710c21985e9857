"""What a Service holds beside its object: its cluster IP and its node ports, taken and given back through
the strategy's storage hooks (see strategy.py), as Kubernetes' service REST storage does.

* create: a Service that needs a cluster IP (not ExternalName, not headless) gets the requested one or a
  free one; NodePort and LoadBalancer Services get a node port per port (the requested one or a free one).
  Every problem becomes a field error (`spec.clusterIP`, `spec.ports[i].nodePort`), and what was taken
  before the problem is given back, so a refused create holds nothing.
* update: only what the new object holds and the stored one does not is taken (a type change to
  NodePort, an ExternalName becoming ClusterIP); what the stored one held and the new one does not is given
  back once the update is stored (a type change to ClusterIP), and what was taken is given back when the
  compare-and-swap loses.
* delete: everything is given back.

Items are owned by "namespace/name", so a release never frees an item another Service holds.
"""

from __future__ import annotations

from typing import Any

from skiff_common import errors
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import validation
from skiff_apiserver.registry.ipalloc import ClusterIPAllocator, RangeError
from skiff_apiserver.registry.portalloc import NodePortAllocator


def needs_cluster_ip(svc: Any) -> bool:
    return bool(svc.spec.type != "ExternalName" and svc.spec.cluster_ip != "None")


def uses_node_ports(svc: Any) -> bool:
    """NodePort and LoadBalancer Services may hold node ports."""
    return bool(svc.spec.type in ("NodePort", "LoadBalancer"))


def needs_node_ports(svc: Any) -> bool:
    """... and are given one per port unless a LoadBalancer says allocateLoadBalancerNodePorts: false."""
    spec = svc.spec
    if spec.type == "LoadBalancer":
        return not spec.HasField("allocate_load_balancer_node_ports") or spec.allocate_load_balancer_node_ports
    return bool(spec.type == "NodePort")


def held_ip(svc: Any) -> str:
    ip: str = svc.spec.cluster_ip
    return "" if ip == "None" else ip


def held_ports(svc: Any) -> set[int]:
    return {p.node_port for p in svc.spec.ports if p.node_port}


def owner(svc: Any) -> str:
    return f"{svc.metadata.namespace}/{svc.metadata.name}"


class ServiceAllocations:
    def __init__(self, ips: ClusterIPAllocator | None, ports: NodePortAllocator | None) -> None:
        self.ips = ips
        self.ports = ports

    async def take(self, new: Any, old: Any | None, *, dry_run: bool = False) -> bool:
        """Take what `new` holds and `old` (None on create) does not; all or nothing. True if anything
        was taken (and written into `new`). `dry_run`: refuse what the real call would refuse (a taken
        or out-of-range item), take nothing and leave unrequested items unset."""
        who = owner(new)
        spec = new.spec
        errs: list[FieldError] = []
        taken_ip = ""
        taken_ports: list[int] = []
        wants_ip = not spec.cluster_ip or old is None or spec.cluster_ip != held_ip(old)
        if self.ips is not None and needs_cluster_ip(new) and wants_ip:
            try:
                taken_ip = await self.ips.allocate(who, spec.cluster_ip, dry_run=dry_run)
            except RangeError as exc:
                errs.append(validation.invalid("spec.clusterIP", spec.cluster_ip, str(exc)))
            else:
                if taken_ip:
                    spec.cluster_ip = taken_ip
                    spec.cluster_ips[:] = [taken_ip]
        if self.ports is not None and uses_node_ports(new):
            holds = held_ports(old) if old is not None else set()
            # Requested ports first, so a drawn port can never collide with one asked for later.
            order = sorted(range(len(spec.ports)), key=lambda i: spec.ports[i].node_port == 0)
            for i in order:
                p = spec.ports[i]
                if p.node_port and p.node_port in holds:
                    continue  # held already, or shared by two protocols of one port number
                if not p.node_port and not needs_node_ports(new):
                    continue  # allocateLoadBalancerNodePorts: false gives only the ports asked for
                try:
                    p.node_port = await self.ports.allocate(who, p.node_port, holds, dry_run=dry_run)
                except RangeError as exc:
                    errs.append(validation.invalid(f"spec.ports[{i}].nodePort", p.node_port, str(exc)))
                    continue
                if p.node_port:
                    taken_ports.append(p.node_port)
                    holds.add(p.node_port)
        if dry_run:
            if errs:
                raise errors.Invalid(f'Service "{new.metadata.name}" is invalid', errs)
            return False
        if errs:
            if taken_ip and self.ips is not None:
                await self.ips.release(taken_ip, who)
            if self.ports is not None:
                for port in taken_ports:
                    await self.ports.release(port, who)
            raise errors.Invalid(f'Service "{new.metadata.name}" is invalid', errs)
        return bool(taken_ip or taken_ports)

    async def give_back(self, svc: Any, keep: Any | None = None) -> None:
        """Release what `svc` holds and `keep` (the object that stays stored, if any) does not."""
        who = owner(svc)
        ip = held_ip(svc)
        if self.ips is not None and ip and (keep is None or held_ip(keep) != ip):
            await self.ips.release(ip, who)
        if self.ports is not None:
            for port in held_ports(svc) - (held_ports(keep) if keep is not None else set()):
                await self.ports.release(port, who)
