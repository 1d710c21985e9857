"""`skiff create -f FILE` and kubectl's generators: namespace, deployment, job, cronjob, configmap,
secret generic|tls, service clusterip|nodeport|loadbalancer|externalname. Each builds the object
(kube/generators.py) and sends it through the same create as `-f` (with --dry-run and -o)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..kube import generators as gen
from ..kube import manifests, writes
from ..kube.errors import ApiError, CliError, with_source
from ..kube.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("create", help="create objects from files or from a generator")
    manifests.add_file_flags(p, what="to create")
    writes.add_write_flags(p, manager="skiff-create")
    p.set_defaults(run=run_files)
    gens = p.add_subparsers(dest="generator", metavar="GENERATOR")

    def gen_parser(name: str, help: str, run: Any, *aliases: str) -> argparse.ArgumentParser:
        g = gens.add_parser(name, help=help, aliases=list(aliases))
        g.add_argument("name")
        writes.add_write_flags(g, manager="skiff-create")
        g.set_defaults(run=run)
        return g

    gen_parser("namespace", "a namespace", run_namespace, "ns")
    d = gen_parser("deployment", "a deployment running an image", run_deployment, "deploy")
    d.add_argument("--image", action="append", required=True)
    d.add_argument("-r", "--replicas", type=int, default=1)
    d.add_argument("--port", type=int, default=None)
    d.add_argument("cmd", nargs="*", metavar="COMMAND")
    j = gen_parser("job", "a job running an image, or from a cronjob", run_job)
    j.add_argument("--image", default="")
    j.add_argument("--from", dest="from_", default="", help="cronjob/NAME to take the job template from")
    j.add_argument("cmd", nargs="*", metavar="COMMAND")
    c = gen_parser("cronjob", "a cronjob running an image on a schedule", run_cronjob, "cj")
    c.add_argument("--image", required=True)
    c.add_argument("--schedule", required=True)
    c.add_argument("--restart", default="OnFailure", choices=["OnFailure", "Never"])
    c.add_argument("cmd", nargs="*", metavar="COMMAND")
    m = gen_parser("configmap", "a configmap from literals, files or env files", run_configmap, "cm")
    _data_flags(m)
    secrets = gens.add_parser("secret", help="a secret (generic, tls)").add_subparsers(
        dest="secret_kind", required=True
    )
    sg = secrets.add_parser("generic", help="a secret from literals, files or env files")
    sg.add_argument("name")
    _data_flags(sg)
    sg.add_argument("--type", default="")
    writes.add_write_flags(sg, manager="skiff-create")
    sg.set_defaults(run=run_secret_generic)
    st = secrets.add_parser("tls", help="a TLS secret from a certificate and key")
    st.add_argument("name")
    st.add_argument("--cert", required=True)
    st.add_argument("--key", required=True)
    writes.add_write_flags(st, manager="skiff-create")
    st.set_defaults(run=run_secret_tls)
    svc = gens.add_parser("service", help="a service", aliases=["svc"]).add_subparsers(
        dest="service_kind", required=True
    )
    for kind in ("clusterip", "nodeport", "loadbalancer", "externalname"):
        sp = svc.add_parser(kind, help=f"a {kind} service")
        sp.add_argument("name")
        sp.add_argument("--tcp", action="append", default=[], help="port[:targetPort]")
        sp.add_argument("--clusterip", default="", help='"None" for a headless service')
        sp.add_argument("--node-port", type=int, default=None)
        sp.add_argument("--external-name", default="", required=kind == "externalname")
        writes.add_write_flags(sp, manager="skiff-create")
        sp.set_defaults(run=run_service, service_type=kind)


def _data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-literal", action="append", default=[], help="key=value")
    p.add_argument("--from-file", action="append", default=[], help="[key=]path (a folder: one key per file)")
    p.add_argument("--from-env-file", action="append", default=[], help="a file of key=value lines")


def send(args: argparse.Namespace, obj: dict[str, Any], what: str = "") -> int:
    """Create one generated object; kubectl words most generators' server errors as `error: failed to
    create <what>: <message>`."""
    s = Session(args)
    res = s.mapper.for_object(obj)
    try:
        created = writes.create(s, args, res, obj)
    except ApiError as err:
        if not what:
            raise
        raise CliError(f"error: failed to create {what}: {err.status.get('message', '')}") from None
    writes.report(args, res, created, "created")
    return 0


def run_files(args: argparse.Namespace) -> int:
    if not args.filename:
        raise CliError("error: must specify one of -f and -k")
    s = Session(args)
    failed: list[str] = []
    for source, obj in manifests.load(args.filename, args.recursive):
        res = s.mapper.for_object(obj)
        try:
            created = writes.create(s, args, res, obj)
        except ApiError as err:
            failed.append(with_source(err, "creating", source).message)
            continue
        writes.report(args, res, created, "created")
    if failed:
        raise CliError("\n".join(failed))
    return 0


def run_namespace(args: argparse.Namespace) -> int:
    return send(args, gen.namespace(args.name))


def run_deployment(args: argparse.Namespace) -> int:
    return send(
        args,
        gen.deployment(args.name, "", args.image, args.replicas, args.port, args.cmd + args.after_dash),
        "deployment",
    )


def run_job(args: argparse.Namespace) -> int:
    if args.from_:
        kind, _, source = args.from_.partition("/")
        if kind not in ("cronjob", "cj", "cronjobs") or not source:
            raise CliError("error: from must be an existing cronjob: cronjob/NAME")
        s = Session(args)
        cron = s.get(s.mapper.lookup("cronjobs"), source)
        return send(args, gen.job_from_cronjob(args.name, "", cron), "job")
    if not args.image:
        raise CliError("error: either --image or --from must be specified")
    return send(args, gen.job(args.name, "", args.image, args.cmd + args.after_dash), "job")


def run_cronjob(args: argparse.Namespace) -> int:
    return send(
        args, gen.cronjob(args.name, "", args.image, args.schedule, args.restart, args.cmd + args.after_dash), "cronjob"
    )


def run_configmap(args: argparse.Namespace) -> int:
    data = gen.file_data(args.from_literal, args.from_file, args.from_env_file)
    return send(args, gen.configmap(args.name, "", data), "configmap")


def run_secret_generic(args: argparse.Namespace) -> int:
    data = gen.file_data(args.from_literal, args.from_file, args.from_env_file)
    return send(args, gen.secret(args.name, "", data, args.type), "secret")


def run_secret_tls(args: argparse.Namespace) -> int:
    data = {}
    for key, path in (("tls.crt", args.cert), ("tls.key", args.key)):
        if not Path(path).is_file():
            raise CliError(f"error: open {path}: no such file or directory")
        data[key] = Path(path).read_bytes()
    return send(args, gen.secret(args.name, "", data, "kubernetes.io/tls"), "secret")


def run_service(args: argparse.Namespace) -> int:
    if args.service_type != "externalname" and not args.tcp and args.clusterip != "None":
        raise CliError("error: at least one tcp port specifier must be provided")
    obj = gen.service(args.service_type, args.name, "", args.tcp, args.clusterip, args.node_port, args.external_name)
    kinds = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer"}
    return send(args, obj, f"{kinds.get(args.service_type, 'ExternalName')} service")
