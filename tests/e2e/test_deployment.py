"""A Deployment end to end on a real cluster: the Kubernetes docs' ``nginx-deployment``, a rolling image
update and a rollback, all through the ``skiff`` command.

The manifest is the docs' (concepts/workloads/controllers/deployment) with two changes, because only
busybox exists locally: ``image: busybox`` instead of ``nginx:1.14.2``, and a ``command`` (busybox's
own httpd on the same containerPort 80), since busybox's default command is a shell that exits at once
and would never be Ready.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.root]

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: {image}
        command: ["httpd", "-f", "-p", "80"]
        ports:
        - containerPort: 80
"""

REVISION = "deployment.kubernetes.io/revision"


def _apply(skiff, tmp_path: Path, image: str) -> str:  # type: ignore[no-untyped-def]
    manifest = tmp_path / f"deploy-{image.replace(':', '-')}.yaml"
    manifest.write_text(MANIFEST.format(image=image))
    return skiff("apply", "-f", str(manifest)).stdout.strip()


def _rolled_out(skiff, image: str):  # type: ignore[no-untyped-def]
    """The Deployment when it is complete on ``image`` (all pods of the new template, ready), else None."""
    d = skiff.get_json("deployment", "nginx-deployment")
    st = d.get("status", {})
    conditions = {c["type"]: c for c in st.get("conditions", [])}
    done = (
        st.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
        and st.get("updatedReplicas") == 3
        and st.get("replicas") == 3
        and st.get("availableReplicas") == 3
        and conditions.get("Progressing", {}).get("reason") == "NewReplicaSetAvailable"
    )
    if not done:
        return None
    pods = skiff.get_json("pods", "-l", "app=nginx")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    images = {p["spec"]["containers"][0]["image"] for p in live}
    return d if len(live) == 3 and images == {image} else None


def _replicasets(skiff) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    items = skiff.get_json("replicasets", "-l", "app=nginx")["items"]
    return {rs["metadata"]["name"]: rs for rs in items}


def test_nginx_deployment_rolls_out_updates_and_rolls_back(skiff, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert _apply(skiff, tmp_path, "busybox").endswith("/nginx-deployment created")
    d = skiff.wait_for("3/3 ready", lambda: _rolled_out(skiff, "busybox"), timeout=180)
    assert d["metadata"]["annotations"][REVISION] == "1"
    table = skiff("get", "deployments").stdout
    assert "nginx-deployment" in table and "3/3" in table, table
    (first,) = _replicasets(skiff).values()
    assert first["metadata"]["name"].startswith("nginx-deployment-")

    _apply(skiff, tmp_path, "busybox:1.36")
    d = skiff.wait_for("the rolling update", lambda: _rolled_out(skiff, "busybox:1.36"), timeout=240)
    assert d["metadata"]["annotations"][REVISION] == "2"
    rss = _replicasets(skiff)
    assert len(rss) == 2 and rss[first["metadata"]["name"]]["spec"]["replicas"] == 0

    # Rollback, as `kubectl rollout undo` does it: the template goes back to revision 1's.
    _apply(skiff, tmp_path, "busybox")
    d = skiff.wait_for("the rollback", lambda: _rolled_out(skiff, "busybox"), timeout=240)
    rss = _replicasets(skiff)
    back = rss[first["metadata"]["name"]]
    assert len(rss) == 2 and back["spec"]["replicas"] == 3
    assert back["metadata"]["annotations"][REVISION] == "3" and d["metadata"]["annotations"][REVISION] == "3"

    events = skiff("get", "events").stdout
    assert "ScalingReplicaSet" in events, events
    assert events.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], events
    both = skiff("get", "deployments,replicasets").stdout
    # kubectl's kind/name prefix when several kinds print: kind.group
    assert "deployment.apps/nginx-deployment" in both and f"replicaset.apps/{first['metadata']['name']}" in both, both
    skiff("delete", "deployment", "nginx-deployment")


def test_skiff_up_restarts_a_killed_controller_manager(skiff, cluster) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import time

    from skiff_cli.cluster import processes

    pid_dir = cluster.layout.pid_dir
    before = processes.running_pid("controllers", pid_dir)
    assert before is not None
    os.kill(before, signal.SIGKILL)

    def restarted() -> int | None:
        now = processes.running_pid("controllers", pid_dir)
        return now if now is not None and now != before else None

    skiff.wait_for("the supervisor to restart the controllers", restarted, timeout=60)
    log = (cluster.layout.log_dir / "supervisor.log").read_text()
    assert "restarting controllers (restart #1" in log, log
    time.sleep(0.5)
    assert processes.running_pid("controllers", pid_dir) is not None
