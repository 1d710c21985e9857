"""Kubernetes' protobuf encoding of request bodies (`application/vnd.kubernetes.protobuf`), decoded to
Kubernetes JSON, for what kubectl >= 1.31 sends that way: its typed clients (`kubectl create namespace |
configmap | secret | deployment | job | cronjob | service | quota`, `drain`'s Eviction) and client-go's
DeleteOptions (Helm deleting its release Secrets).

The body is `k8s\\0` + runtime.Unknown{typeMeta, raw}; `raw` is the object in the wire format of
Kubernetes' generated.proto files. `_SPEC` below is that contract for the messages those commands send:
field number -> (JSON name, kind, repeated), the numbers being Kubernetes' own (as the CRI proto mirrors
Kubernetes' numbers). Kinds: str, bytes, int, bool, time (metav1.Time), quantity, intstr, map (string
values), mapbytes, msg:<Message>. A field outside the table is skipped; the decoded JSON then goes through
the same strict decoding as a JSON body. Responses stay JSON: clients accept it.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from skiff_common import errors

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Message -> "number:jsonName:kind" tokens ("@Message" for a nested message, "*" for repeated).
_SPEC: dict[str, str] = {
    "ObjectMeta": (
        "1:name:str 2:generateName:str 3:namespace:str 4:selfLink:str 5:uid:str 6:resourceVersion:str "
        "7:generation:int 8:creationTimestamp:time 9:deletionTimestamp:time 10:deletionGracePeriodSeconds:int "
        "11:labels:map 12:annotations:map 13:ownerReferences:@OwnerReference* 14:finalizers:str*"
    ),
    "LabelSelector": "1:matchLabels:map 2:matchExpressions:@LabelSelectorRequirement*",
    "LabelSelectorRequirement": "1:key:str 2:operator:str 3:values:str*",
    "OwnerReference": "1:kind:str 3:name:str 4:uid:str 5:apiVersion:str 6:controller:bool 7:blockOwnerDeletion:bool",
    "DeleteOptions": (
        "1:gracePeriodSeconds:int 2:preconditions:@Preconditions 3:orphanDependents:bool "
        "4:propagationPolicy:str 5:dryRun:str* 6:ignoreStoreReadErrorWithClusterBreakingPotential:bool"
    ),
    "Preconditions": "1:uid:str 2:resourceVersion:str",
    "Unknown": "1:typeMeta:@TypeMeta 2:raw:bytes 3:contentEncoding:str 4:contentType:str",
    "TypeMeta": "1:apiVersion:str 2:kind:str",
    "Namespace": "1:metadata:@ObjectMeta 2:spec:@NamespaceSpec",
    "Pod": "1:metadata:@ObjectMeta 2:spec:@PodSpec",
    "SelfSubjectAccessReview": "1:metadata:@ObjectMeta 2:spec:@SelfSubjectAccessReviewSpec",
    "SelfSubjectAccessReviewSpec": (
        "1:resourceAttributes:@ResourceAttributes 2:nonResourceAttributes:@NonResourceAttributes"
    ),
    "ResourceAttributes": (
        "1:namespace:str 2:verb:str 3:group:str 4:version:str 5:resource:str 6:subresource:str 7:name:str"
    ),
    "NonResourceAttributes": "1:path:str 2:verb:str",
    "SelfSubjectRulesReview": "1:metadata:@ObjectMeta 2:spec:@SelfSubjectRulesReviewSpec",
    "TokenRequest": "1:metadata:@ObjectMeta 2:spec:@TokenRequestSpec",
    "TokenRequestSpec": "1:audiences:str* 3:boundObjectRef:@BoundObjectReference 4:expirationSeconds:int",
    "BoundObjectReference": "1:kind:str 2:apiVersion:str 3:name:str 4:uid:str",
    "TokenReview": "1:metadata:@ObjectMeta 2:spec:@TokenReviewSpec",
    "SelfSubjectReview": "1:metadata:@ObjectMeta",
    "TokenReviewSpec": "1:token:str 2:audiences:str*",
    "SelfSubjectRulesReviewSpec": "1:namespace:str",
    "SubjectAccessReview": "1:metadata:@ObjectMeta 2:spec:@SubjectAccessReviewSpec",
    "LocalSubjectAccessReview": "1:metadata:@ObjectMeta 2:spec:@SubjectAccessReviewSpec",
    "SubjectAccessReviewSpec": (
        "1:resourceAttributes:@ResourceAttributes 2:nonResourceAttributes:@NonResourceAttributes 3:user:str "
        "4:groups:str* 6:uid:str"
    ),
    "NamespaceSpec": "1:finalizers:str*",
    "ConfigMap": "1:metadata:@ObjectMeta 2:data:map 3:binaryData:mapbytes 4:immutable:bool",
    "Secret": "1:metadata:@ObjectMeta 2:data:mapbytes 3:type:str 4:stringData:map 5:immutable:bool",
    "Service": "1:metadata:@ObjectMeta 2:spec:@ServiceSpec",
    "ServiceSpec": (
        "1:ports:@ServicePort* 2:selector:map 3:clusterIP:str 4:type:str 5:externalIPs:str* "
        "7:sessionAffinity:str 8:loadBalancerIP:str 9:loadBalancerSourceRanges:str* 10:externalName:str "
        "11:externalTrafficPolicy:str 12:healthCheckNodePort:int 13:publishNotReadyAddresses:bool "
        "17:ipFamilyPolicy:str 18:clusterIPs:str* 19:ipFamilies:str* 20:allocateLoadBalancerNodePorts:bool "
        "21:loadBalancerClass:str 22:internalTrafficPolicy:str 23:trafficDistribution:str"
    ),
    "ServicePort": "1:name:str 2:protocol:str 3:port:int 4:targetPort:intstr 5:nodePort:int 6:appProtocol:str",
    "PodTemplateSpec": "1:metadata:@ObjectMeta 2:spec:@PodSpec",
    "PodSpec": (
        "2:containers:@Container* 3:restartPolicy:str 4:terminationGracePeriodSeconds:int "
        "5:activeDeadlineSeconds:int 6:dnsPolicy:str 7:nodeSelector:map 8:serviceAccountName:str "
        "9:serviceAccount:str 10:nodeName:str 11:hostNetwork:bool 12:hostPID:bool 13:hostIPC:bool "
        "15:imagePullSecrets:@LocalObjectReference* 16:hostname:str 17:subdomain:str 19:schedulerName:str "
        "20:initContainers:@Container* 21:automountServiceAccountToken:bool 22:tolerations:@Toleration* "
        "24:priorityClassName:str 25:priority:int 27:shareProcessNamespace:bool 29:runtimeClassName:str "
        "30:enableServiceLinks:bool 31:preemptionPolicy:str 32:overhead:mapquantity 35:setHostnameAsFQDN:bool "
        "37:hostUsers:bool 40:resources:@ResourceRequirements"
    ),
    "Container": (
        "1:name:str 2:image:str 3:command:str* 4:args:str* 5:workingDir:str 6:ports:@ContainerPort* "
        "7:env:@EnvVar* 8:resources:@ResourceRequirements 9:volumeMounts:@VolumeMount* "
        "13:terminationMessagePath:str 14:imagePullPolicy:str 16:stdin:bool 17:stdinOnce:bool 18:tty:bool "
        "20:terminationMessagePolicy:str 24:restartPolicy:str"
    ),
    "ContainerPort": "1:name:str 2:hostPort:int 3:containerPort:int 4:protocol:str 5:hostIP:str",
    "EnvVar": "1:name:str 2:value:str",
    "ResourceRequirements": "1:limits:mapquantity 2:requests:mapquantity",
    "VolumeMount": (
        "1:name:str 2:readOnly:bool 3:mountPath:str 4:subPath:str 5:mountPropagation:str 6:subPathExpr:str "
        "7:recursiveReadOnly:str"
    ),
    "Toleration": "1:key:str 2:operator:str 3:value:str 4:effect:str 5:tolerationSeconds:int",
    "LocalObjectReference": "1:name:str",
    "Deployment": "1:metadata:@ObjectMeta 2:spec:@DeploymentSpec",
    "DeploymentSpec": (
        "1:replicas:int 2:selector:@LabelSelector 3:template:@PodTemplateSpec 4:strategy:@DeploymentStrategy "
        "5:minReadySeconds:int 6:revisionHistoryLimit:int 7:paused:bool 9:progressDeadlineSeconds:int"
    ),
    "DeploymentStrategy": "1:type:str 2:rollingUpdate:@RollingUpdateDeployment",
    "RollingUpdateDeployment": "1:maxUnavailable:intstr 2:maxSurge:intstr",
    "Job": "1:metadata:@ObjectMeta 2:spec:@JobSpec",
    "JobSpec": (
        "1:parallelism:int 2:completions:int 3:activeDeadlineSeconds:int 4:selector:@LabelSelector "
        "5:manualSelector:bool 6:template:@PodTemplateSpec 7:backoffLimit:int 8:ttlSecondsAfterFinished:int "
        "9:completionMode:str 10:suspend:bool 12:backoffLimitPerIndex:int 13:maxFailedIndexes:int "
        "14:podReplacementPolicy:str 15:managedBy:str"
    ),
    "JobTemplateSpec": "1:metadata:@ObjectMeta 2:spec:@JobSpec",
    "CronJob": "1:metadata:@ObjectMeta 2:spec:@CronJobSpec",
    "CronJobSpec": (
        "1:schedule:str 2:startingDeadlineSeconds:int 3:concurrencyPolicy:str 4:suspend:bool "
        "5:jobTemplate:@JobTemplateSpec 6:successfulJobsHistoryLimit:int 7:failedJobsHistoryLimit:int "
        "8:timeZone:str"
    ),
    "Eviction": "1:metadata:@ObjectMeta 2:deleteOptions:@DeleteOptions",
    # `kubectl create quota`
    "ResourceQuota": "1:metadata:@ObjectMeta 2:spec:@ResourceQuotaSpec 3:status:@ResourceQuotaStatus",
    "ResourceQuotaSpec": "1:hard:mapquantity 2:scopes:str* 3:scopeSelector:@ScopeSelector",
    "ScopeSelector": "1:matchExpressions:@ScopedResourceSelectorRequirement*",
    "ScopedResourceSelectorRequirement": "1:scopeName:str 2:operator:str 3:values:str*",
    "ResourceQuotaStatus": "1:hard:mapquantity 2:used:mapquantity",
}


def _parse(spec: str) -> dict[int, tuple[str, str, bool]]:
    out = {}
    for token in spec.split():
        number, name, kind = token.split(":")
        repeated = kind.endswith("*")
        kind = kind.rstrip("*")
        out[int(number)] = (name, "msg:" + kind[1:] if kind.startswith("@") else kind, repeated)
    return out


WIRE: dict[str, dict[int, tuple[str, str, bool]]] = {name: _parse(spec) for name, spec in _SPEC.items()}

# (apiVersion, kind) -> the message of the object in `raw`.
ROOTS = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "Pod"): "Pod",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Service"): "Service",
    ("v1", "ResourceQuota"): "ResourceQuota",
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("policy/v1", "Eviction"): "Eviction",
    # client-go's typed clients send a DELETE's options as a body (Helm's Secret storage: `helm uninstall`)
    ("v1", "DeleteOptions"): "DeleteOptions",
    ("meta.k8s.io/v1", "DeleteOptions"): "DeleteOptions",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "LocalSubjectAccessReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "TokenReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(data):
            raise errors.BadRequest("protobuf body: truncated varint")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise errors.BadRequest("protobuf body: varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, value) of every field: ints for varints, bytes for length-delimited."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise errors.BadRequest("protobuf body: truncated field")
            value, i = data[i : i + size], i + size
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise errors.BadRequest(f"protobuf body: unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(raw: bytes) -> str | None:
    seconds = next((_signed(v) for n, w, v in _fields(raw) if n == 1 and w == 0), 0)
    if not seconds:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _intstr(raw: bytes) -> int | str:
    kind, number, text = 0, 0, ""
    for n, _w, v in _fields(raw):
        if n == 1:
            kind = v
        elif n == 2:
            number = _signed(v)
        elif n == 3:
            text = v.decode()
    return text if kind == 1 else number


def _value(kind: str, wire: int, value: Any) -> Any:
    if kind == "str":
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return _signed(value)
    if kind == "time":
        return _time(value)
    if kind == "quantity":
        return next((v.decode() for n, _w, v in _fields(value) if n == 1), "")
    if kind == "intstr":
        return _intstr(value)
    if kind.startswith("msg:"):
        return decode_message(kind[4:], value)
    raise errors.BadRequest(f"protobuf body: unsupported field kind {kind}")


def decode_message(name: str, data: bytes) -> dict[str, Any]:
    schema = WIRE[name]
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue
        field, kind, repeated = spec
        if kind.startswith("map"):
            key, item = "", b""
            for n, _w, v in _fields(value):
                if n == 1:
                    key = v.decode()
                elif n == 2:
                    item = v
            entry = base64.b64encode(item).decode() if kind == "mapbytes" else item.decode()
            if kind == "mapquantity":
                entry = next((v.decode() for n, _w, v in _fields(item) if n == 1), "")
            out.setdefault(field, {})[key] = entry
            continue
        if wire == 2 and kind in ("int", "bool"):  # a packed repeated scalar
            items, i = [], 0
            while i < len(value):
                v, i = _varint(value, i)
                items.append(_value(kind, 0, v))
            out.setdefault(field, []).extend(items)
            continue
        decoded = _value(kind, wire, value)
        if repeated:
            out.setdefault(field, []).append(decoded)
        elif decoded is not None and decoded != "":  # Go writes empty non-pointer fields; JSON omits them
            out[field] = decoded
    return out


class ProtobufBody(dict[str, Any]):
    """A body that came as protobuf: Go writes every non-pointer field, zeros included, so a zero value in
    a field our types do not have is not a user's typo (codec.decode drops those instead of refusing)."""


def decode(body: bytes) -> ProtobufBody:
    """The Kubernetes JSON form of a protobuf request body."""
    if not body.startswith(MAGIC):
        raise errors.BadRequest("protobuf body: missing the k8s\\0 prefix")
    envelope = decode_message("Unknown", body[len(MAGIC) :])
    meta = envelope.get("typeMeta", {})
    api_version, kind = meta.get("apiVersion", ""), meta.get("kind", "")
    root = ROOTS.get((api_version, kind))
    if root is None:
        raise errors.BadRequest(
            f"protobuf body: {kind or 'an object'} ({api_version}) is not served in protobuf; send application/json"
        )
    raw = base64.b64decode(envelope.get("raw", ""))
    return ProtobufBody({"apiVersion": api_version, "kind": kind, **decode_message(root, raw)})
