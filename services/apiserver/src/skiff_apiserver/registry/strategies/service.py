"""Services: type ClusterIP, TCP ports, targetPort = port by default; ports valid and uniquely named."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.machinery import validation
from skiff_apiserver.registry.strategy import Strategy, immutable

TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")


class ServiceStrategy(Strategy):
    def name_errors(self, name: str, path: str) -> list[FieldError]:
        return validation.validate_dns1123_label(name, path)

    def default(self, obj: Any) -> None:
        spec = obj.spec
        spec.type = spec.type or "ClusterIP"
        spec.session_affinity = spec.session_affinity or "None"
        for p in spec.ports:
            p.protocol = p.protocol or "TCP"
            if not p.HasField("target_port"):
                p.target_port.int_val = p.port

    def validate(self, obj: Any) -> list[FieldError]:
        spec = obj.spec
        errs: list[FieldError] = []
        if spec.type not in TYPES:
            errs.append(FieldError("spec.type", "Unsupported value", repr(spec.type)))
        if spec.type != "ExternalName" and not spec.ports and spec.cluster_ip != "None":
            errs.append(FieldError("spec.ports", "Required value"))
        names: set[str] = set()
        for i, p in enumerate(spec.ports):
            errs += validation.validate_port(p.port, f"spec.ports[{i}].port")
            if len(spec.ports) > 1 and not p.name:
                errs.append(FieldError(f"spec.ports[{i}].name", "Required value"))
            if p.name in names:
                errs.append(FieldError(f"spec.ports[{i}].name", "Duplicate value", repr(p.name)))
            names.add(p.name)
            if p.target_port.WhichOneof("value") == "int_val" and p.target_port.int_val:
                errs += validation.validate_port(p.target_port.int_val, f"spec.ports[{i}].targetPort")
        errs += validation.validate_labels(spec.selector, "spec.selector")
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = self.validate(new)
        if old.spec.cluster_ip and new.spec.cluster_ip:
            errs += immutable("spec.clusterIP", new.spec.cluster_ip, old.spec.cluster_ip)
        return errs

    def merge_for_update(self, new: Any, old: Any) -> None:
        super().merge_for_update(new, old)
        if not new.spec.cluster_ip:  # an update that omits it keeps it
            new.spec.cluster_ip = old.spec.cluster_ip
            new.spec.cluster_ips[:] = old.spec.cluster_ips
