"""`skiff rollout status|history|undo|restart|pause|resume`, as kubectl words them.

status polls the workload until its controller reports the rollout done (kubectl's status viewers:
observedGeneration caught up, every replica updated, old ones gone, the new ones available). history
and undo read a Deployment's revisions from its ReplicaSets' `deployment.kubernetes.io/revision`
annotation; undo puts the chosen revision's pod template back (without its pod-template-hash label).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from datetime import UTC, datetime
from typing import Any

from ..kube import writes
from ..kube.describe import tabwrite
from ..kube.errors import CliError
from ..kube.output import name_of
from ..kube.resources import Resource
from ..kube.session import Session
from ..kube.targets import objects_of

REVISION = "deployment.kubernetes.io/revision"
CAUSE = "kubernetes.io/change-cause"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rollout", help="manage the rollout of deployments, daemonsets and statefulsets")
    verbs = p.add_subparsers(dest="what", required=True)
    for name, run in (
        ("status", run_status),
        ("history", run_history),
        ("undo", run_undo),
        ("restart", run_restart),
        ("pause", run_pause),
        ("resume", run_resume),
    ):
        q = verbs.add_parser(name, help=f"rollout {name}")
        q.add_argument("resources", nargs="*")
        q.add_argument("-l", "--selector", default="")
        q.add_argument("-f", "--filename", action="append", default=[])
        if name == "status":
            q.add_argument("-w", "--watch", default="true", choices=["true", "false"])
            q.add_argument("--timeout", type=float, default=0, help="seconds (0: no limit)")
            q.add_argument("--revision", type=int, default=0)
        if name in ("undo", "history"):
            q.add_argument("--to-revision" if name == "undo" else "--revision", type=int, default=0, dest="revision")
        if name != "status" and name != "history":
            writes.add_write_flags(q, manager="skiff-rollout")
        q.set_defaults(run=run, positionals_into="resources")


def status_message(obj: dict[str, Any]) -> tuple[str, bool]:
    kind, name = obj.get("kind"), obj["metadata"]["name"]
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    if obj["metadata"].get("generation", 0) > st.get("observedGeneration", 0):
        label = {"Deployment": "deployment", "DaemonSet": "daemon set", "StatefulSet": "statefulset"}.get(kind, kind)
        return f"Waiting for {label} spec update to be observed...", False
    if kind == "Deployment":
        for cond in st.get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
                raise CliError(f'error: deployment "{name}" exceeded its progress deadline')
        want, updated = spec.get("replicas", 1), st.get("updatedReplicas", 0)
        if updated < want:
            return (
                f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas have been updated...',  # noqa: E501
                False,
            )
        if st.get("replicas", 0) > updated:
            return (
                f'Waiting for deployment "{name}" rollout to finish: {st["replicas"] - updated} old replicas are pending termination...',  # noqa: E501
                False,
            )
        if st.get("availableReplicas", 0) < updated:
            return (
                f'Waiting for deployment "{name}" rollout to finish: {st.get("availableReplicas", 0)} of {updated} updated replicas are available...',  # noqa: E501
                False,
            )
        return f'deployment "{name}" successfully rolled out', True
    if kind == "DaemonSet":
        desired, updated = st.get("desiredNumberScheduled", 0), st.get("updatedNumberScheduled", 0)
        if updated < desired:
            return (
                f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods have been updated...',  # noqa: E501
                False,
            )
        if st.get("numberAvailable", 0) < desired:
            return (
                f'Waiting for daemon set "{name}" rollout to finish: {st.get("numberAvailable", 0)} of {desired} updated pods are available...',  # noqa: E501
                False,
            )
        return f'daemon set "{name}" successfully rolled out', True
    if kind == "StatefulSet":
        want, ready = spec.get("replicas", 1), st.get("readyReplicas", 0)
        if ready < want:
            return f"Waiting for {want - ready} pods to be ready...", False
        if st.get("updateRevision") and st.get("updateRevision") != st.get("currentRevision"):
            return (
                f"waiting for statefulset rolling update to complete {st.get('updatedReplicas', 0)} pods at revision {st['updateRevision']}...",  # noqa: E501
                False,
            )
        return f"statefulset rolling update complete {want} pods at revision {st.get('currentRevision', '')}...", True
    raise CliError(f"error: no status viewer has been implemented for {kind}")


def run_status(args: argparse.Namespace) -> int:
    s = Session(args)
    for res, obj in objects_of(s, args, args.resources):
        deadline = time.monotonic() + (args.timeout or 10**9)
        last = ""
        while True:
            obj.setdefault("kind", res.kind)
            message, done = status_message(obj)
            if message != last:
                print(message)
                sys.stdout.flush()
                last = message
            if done or args.watch == "false":
                break
            if time.monotonic() > deadline:
                raise CliError("error: timed out waiting for the condition")
            time.sleep(0.5)
            obj = s.get(res, obj["metadata"]["name"], obj["metadata"].get("namespace", ""))
    return 0


def revisions(s: Session, deployment: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The Deployment's ReplicaSets by revision (the owner checked by UID)."""
    meta = deployment["metadata"]
    rs_res = s.mapper.lookup("replicasets.apps")
    found = {}
    for rs in s.rest.get(rs_res.path(meta["namespace"])).get("items") or []:
        owners = rs["metadata"].get("ownerReferences") or []
        if any(o.get("uid") == meta.get("uid") and o.get("controller") for o in owners):
            rev = (rs["metadata"].get("annotations") or {}).get(REVISION)
            if rev and rev.isdigit():
                found[int(rev)] = rs
    return found


def _deployments(s: Session, args: argparse.Namespace) -> list[tuple[Resource, dict[str, Any]]]:
    found = list(objects_of(s, args, args.resources))
    for res, _ in found:
        if res.kind != "Deployment":
            raise CliError(f"error: no history viewer has been implemented for {res.kind}")
    return found


def run_history(args: argparse.Namespace) -> int:
    s = Session(args)
    for res, dep in _deployments(s, args):
        history = revisions(s, dep)
        if args.revision:
            if args.revision not in history:
                raise CliError("error: unable to find the specified revision")
            from ..kube.output import dump_yaml

            print(f"{name_of(res, dep)} with revision #{args.revision}\nPod Template:")
            sys.stdout.write(dump_yaml(history[args.revision]["spec"]["template"]))
            continue
        rows = ["REVISION\tCHANGE-CAUSE"]
        for rev in sorted(history):
            cause = (history[rev]["metadata"].get("annotations") or {}).get(CAUSE, "<none>")
            rows.append(f"{rev}\t{cause}")
        print(f"{name_of(res, dep)} \n{tabwrite(chr(10).join(rows))}\n")
    return 0


def _template(rs: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(rs["spec"]["template"])
    (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return template


def run_undo(args: argparse.Namespace) -> int:
    s = Session(args)
    for res, dep in _deployments(s, args):
        history = revisions(s, dep)
        name = dep["metadata"]["name"]
        if args.revision:
            if args.revision not in history:
                raise CliError(f"error: unable to find specified revision {args.revision} in history")
            target = args.revision
        else:
            if len(history) < 2:
                raise CliError(f'error: no rollout history found for deployment "{name}"')
            target = sorted(history)[-2]
        template = _template(history[target])
        if template == dep["spec"]["template"]:
            print(f"{name_of(res, dep)} skipped rollback (current template already matches revision {target})")
            continue
        if not writes.client_dry_run(args):
            patch = [{"op": "replace", "path": "/spec/template", "value": template}]
            s.rest.request(
                "PATCH",
                res.path(dep["metadata"]["namespace"], name),
                body=patch,
                params=writes.params(args),
                content_type="application/json-patch+json",
            )
        writes.report(args, res, dep, "rolled back")
    return 0


def _patch(args: argparse.Namespace, body: Any, verb: str, check: Any = None) -> int:
    s = Session(args)
    for res, obj in objects_of(s, args, args.resources):
        if check:
            check(res, obj)
        if not writes.client_dry_run(args):
            meta = obj["metadata"]
            s.rest.request(
                "PATCH",
                res.path(meta.get("namespace", ""), meta["name"]),
                body=body,
                params=writes.params(args),
                content_type="application/merge-patch+json",
            )
        writes.report(args, res, obj, verb)
    return 0


def run_restart(args: argparse.Namespace) -> int:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}}
    return _patch(args, body, "restarted")


def _paused_is(want: bool) -> Any:
    def check(res: Resource, obj: dict[str, Any]) -> None:
        if res.kind != "Deployment":
            raise CliError(f"error: {res.kind_group}/{obj['metadata']['name']} pausing is not supported")
        if bool(obj.get("spec", {}).get("paused")) != want:
            state = "already paused" if want is False else "not paused"
            raise CliError(f'error: {res.qualified} "{obj["metadata"]["name"]}" is {state}')

    return check


def run_pause(args: argparse.Namespace) -> int:
    return _patch(args, {"spec": {"paused": True}}, "paused", _paused_is(False))


def run_resume(args: argparse.Namespace) -> int:
    return _patch(args, {"spec": {"paused": None}}, "resumed", _paused_is(True))
