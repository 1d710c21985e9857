"""Skiff's Grafana dashboards, written with Grafana's Foundation SDK and rendered to JSON beside this file.

    uv run --frozen python monitoring/dashboards/build.py          # write the JSON files
    uv run --frozen python monitoring/dashboards/build.py --check  # fail if they are stale (make lint)

The JSON is generated: edit this file, never the JSON. Every query uses the Kubernetes metric names
Skiff exports (apiserver_*, workqueue_*, kubelet_*, scheduler_*, kube_* from the controller-manager, ...)
and the job names of monitoring/prometheus/prometheus.yml, so the layout follows kubernetes-mixin's
dashboards. tests/monitoring/test_live_prometheus.py runs every panel's query against a live cluster.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

HERE = Path(__file__).resolve().parent
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")

Panel = timeseries.Panel | stat.Panel


def query(expr: str, legend: str = "") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr)
    return q.legend_format(legend) if legend else q


def graph(title: str, unit: str, *queries: prometheus.Dataquery, width: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(width)
    for i, q in enumerate(queries):
        panel = panel.with_target(q.ref_id(chr(ord("A") + i)))
    return panel


def single(title: str, unit: str, q: prometheus.Dataquery, width: int = 6) -> stat.Panel:
    return stat.Panel().title(title).unit(unit).datasource(DATASOURCE).height(4).span(width).with_target(q.ref_id("A"))


def board(uid: str, title: str, rows: list[tuple[str, list[Panel]]]) -> dashboard.Dashboard:
    out = (
        dashboard.Dashboard(f"Skiff / {title}")
        .uid(uid)
        .tags(["skiff", "kubernetes-mixin"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
    )
    for name, panels in rows:
        out = out.with_row(dashboard.Row(name))
        for p in panels:
            out = out.with_panel(p)
    return out


def p99(metric: str, by: str, selector: str = "") -> str:
    return f"histogram_quantile(0.99, sum by (le, {by}) (rate({metric}_bucket{selector}[5m])))"


def overview() -> dashboard.Dashboard:
    return board(
        "skiff-overview",
        "Cluster overview",
        [
            (
                "Health",
                [
                    single("Components up", "none", query("sum(up)")),
                    single(
                        "Nodes ready", "none", query('sum(kube_node_status_condition{condition="Ready",status="true"})')
                    ),
                    single("Pods running", "none", query('sum(kube_pod_status_phase{phase="Running"})')),
                    single("API requests/s", "reqps", query("sum(rate(apiserver_request_total[5m]))")),
                ],
            ),
            (
                "Workload",
                [
                    graph("Components up", "none", query("up", "{{job}}")),
                    graph("Pods by phase", "none", query("sum by (phase) (kube_pod_status_phase)", "{{phase}}")),
                    graph(
                        "API requests by code",
                        "reqps",
                        query("sum by (code) (rate(apiserver_request_total[5m]))", "{{code}}"),
                    ),
                    graph(
                        "Scheduling attempts by result",
                        "ops",
                        query("sum by (result) (rate(scheduler_schedule_attempts_total[5m]))", "{{result}}"),
                    ),
                ],
            ),
        ],
    )


def apiserver() -> dashboard.Dashboard:
    sel = '{job="apiserver"}'
    return board(
        "skiff-apiserver",
        "API server",
        [
            (
                "Requests",
                [
                    graph(
                        "Rate by verb",
                        "reqps",
                        query(f"sum by (verb) (rate(apiserver_request_total{sel}[5m]))", "{{verb}}"),
                    ),
                    graph(
                        "Rate by code",
                        "reqps",
                        query(f"sum by (code) (rate(apiserver_request_total{sel}[5m]))", "{{code}}"),
                    ),
                    graph(
                        "Top resources",
                        "reqps",
                        query(f"topk(10, sum by (resource) (rate(apiserver_request_total{sel}[5m])))", "{{resource}}"),
                    ),
                    graph(
                        "Error ratio (5xx) by verb",
                        "percentunit",
                        query(
                            # `or 0 * total`: a verb without errors shows 0, not a gap.
                            f'(sum by (verb) (rate(apiserver_request_total{{job="apiserver",code=~"5.."}}[5m]))'
                            f" or 0 * sum by (verb) (rate(apiserver_request_total{sel}[5m])))"
                            f" / sum by (verb) (rate(apiserver_request_total{sel}[5m]))",
                            "{{verb}}",
                        ),
                    ),
                ],
            ),
            (
                "Latency",
                [
                    graph(
                        "p99 latency by verb",
                        "s",
                        query(p99("apiserver_request_duration_seconds", "verb", '{verb!~"WATCH|CONNECT"}'), "{{verb}}"),
                    ),
                    graph(
                        "etcd p99 by operation",
                        "s",
                        query(p99("etcd_request_duration_seconds", "operation"), "{{operation}}"),
                    ),
                ],
            ),
            (
                "Load",
                [
                    graph(
                        "Inflight requests",
                        "none",
                        query("sum by (request_kind) (apiserver_current_inflight_requests)", "{{request_kind}}"),
                    ),
                    graph(
                        "Watchers by kind", "none", query("sum by (kind) (apiserver_registered_watchers)", "{{kind}}")
                    ),
                    graph(
                        "Watch events/s by kind",
                        "ops",
                        query("sum by (kind) (rate(apiserver_watch_events_total[5m]))", "{{kind}}"),
                    ),
                    graph("Stored objects", "none", query("topk(10, apiserver_storage_objects)", "{{resource}}")),
                ],
            ),
        ],
    )


def scheduler() -> dashboard.Dashboard:
    return board(
        "skiff-scheduler",
        "Scheduler",
        [
            (
                "Scheduling",
                [
                    graph(
                        "Attempts by result",
                        "ops",
                        query("sum by (result) (rate(scheduler_schedule_attempts_total[5m]))", "{{result}}"),
                    ),
                    graph(
                        "Pending pods by queue", "none", query("sum by (queue) (scheduler_pending_pods)", "{{queue}}")
                    ),
                    graph(
                        "Attempt duration p99",
                        "s",
                        query(p99("scheduler_scheduling_attempt_duration_seconds", "result"), "{{result}}"),
                    ),
                    graph(
                        "API calls by code",
                        "reqps",
                        query('sum by (code) (rate(rest_client_requests_total{job="kube-scheduler"}[5m]))', "{{code}}"),
                    ),
                ],
            ),
        ],
    )


def controllers() -> dashboard.Dashboard:
    sel = '{job="kube-controller-manager"}'
    return board(
        "skiff-controllers",
        "Controllers",
        [
            (
                "Work queues",
                [
                    graph("Queue depth", "none", query(f"sum by (name) (workqueue_depth{sel})", "{{name}}")),
                    graph("Adds/s", "ops", query(f"sum by (name) (rate(workqueue_adds_total{sel}[5m]))", "{{name}}")),
                    graph(
                        "Work duration p99", "s", query(p99("workqueue_work_duration_seconds", "name", sel), "{{name}}")
                    ),
                    graph(
                        "Queue wait p99", "s", query(p99("workqueue_queue_duration_seconds", "name", sel), "{{name}}")
                    ),
                ],
            ),
            (
                "API",
                [
                    graph(
                        "API calls by method and code",
                        "reqps",
                        query(
                            f"sum by (method, code) (rate(rest_client_requests_total{sel}[5m]))", "{{method}} {{code}}"
                        ),
                    ),
                    graph(
                        "API call p99 by verb",
                        "s",
                        query(p99("rest_client_request_duration_seconds", "verb", sel), "{{verb}}"),
                    ),
                ],
            ),
        ],
    )


def nodes() -> dashboard.Dashboard:
    kubelet = '{job="kubelet"}'
    return board(
        "skiff-nodes",
        "Nodes and kubelets",
        [
            (
                "Nodes",
                [
                    graph(
                        "Node conditions (true)",
                        "none",
                        query(
                            'sum by (node, condition) (kube_node_status_condition{status="true"})',
                            "{{node}} {{condition}}",
                        ),
                    ),
                    graph(
                        "Running pods per kubelet",
                        "none",
                        query(f"sum by (instance) (kubelet_running_pods{kubelet})", "{{instance}}"),
                    ),
                    graph(
                        "Containers by state",
                        "none",
                        query(f"sum by (container_state) (kubelet_running_containers{kubelet})", "{{container_state}}"),
                    ),
                    graph(
                        "PLEG relist p99",
                        "s",
                        query(p99("kubelet_pleg_relist_duration_seconds", "instance", kubelet), "{{instance}}"),
                    ),
                    graph(
                        "Pod worker p99",
                        "s",
                        query(
                            p99("kubelet_pod_worker_duration_seconds", "operation_type", kubelet), "{{operation_type}}"
                        ),
                    ),
                    graph(
                        "Runtime calls/s by method",
                        "ops",
                        query(
                            'topk(10, sum by (method) (rate(skiff_grpc_client_handled_total{job="kubelet",'
                            'service=~"runtime.*"}[5m])))',
                            "{{method}}",
                        ),
                    ),
                ],
            ),
            (
                "Service network",
                [
                    graph(
                        "Proxy rule sync p99",
                        "s",
                        query(
                            p99("kubeproxy_sync_proxy_rules_duration_seconds", "instance", '{job="kube-proxy"}'),
                            "{{instance}}",
                        ),
                    ),
                    graph(
                        "DNS queries/s",
                        "reqps",
                        query('sum by (type) (rate(coredns_dns_requests_total{job="coredns"}[5m]))', "{{type}}"),
                    ),
                    graph(
                        "DNS p99",
                        "s",
                        query(p99("coredns_dns_request_duration_seconds", "server", '{job="coredns"}'), "{{server}}"),
                    ),
                    graph(
                        "DNS responses by rcode",
                        "reqps",
                        query('sum by (rcode) (rate(coredns_dns_responses_total{job="coredns"}[5m]))', "{{rcode}}"),
                    ),
                ],
            ),
        ],
    )


def pods() -> dashboard.Dashboard:
    return board(
        "skiff-pods",
        "Pods and containers",
        [
            (
                "Resources",
                [
                    graph(
                        "CPU by pod",
                        "cores",
                        query(
                            'topk(10, sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{job="kubelet"}'
                            "[5m])))",
                            "{{namespace}}/{{pod}}",
                        ),
                    ),
                    graph(
                        "Memory working set by pod",
                        "bytes",
                        query(
                            'topk(10, sum by (namespace, pod) (container_memory_working_set_bytes{job="kubelet"}))',
                            "{{namespace}}/{{pod}}",
                        ),
                    ),
                ],
            ),
            (
                "State",
                [
                    graph(
                        "Pods by namespace and phase",
                        "none",
                        query("sum by (namespace, phase) (kube_pod_status_phase)", "{{namespace}} {{phase}}"),
                    ),
                    graph(
                        "Container restarts (1h)",
                        "none",
                        query(
                            "topk(10, sum by (namespace, pod) "
                            "(increase(kube_pod_container_status_restarts_total[1h])))",
                            "{{namespace}}/{{pod}}",
                        ),
                    ),
                ],
            ),
        ],
    )


DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "overview": overview,
    "apiserver": apiserver,
    "scheduler": scheduler,
    "controllers": controllers,
    "nodes": nodes,
    "pods": pods,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {
        f"{name}.json": json.dumps(make().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
        for name, make in DASHBOARDS.items()
    }


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [
            name for name, text in files.items() if not (HERE / name).exists() or (HERE / name).read_text() != text
        ]
        if stale:
            print(f"stale dashboards (run monitoring/dashboards/build.py): {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    for name, text in files.items():
        (HERE / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
