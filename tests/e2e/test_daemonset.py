"""A DaemonSet from the Kubernetes documentation on a real one-node cluster.

The manifest is the docs' ``controllers/daemonset.yaml`` (fluentd-elasticsearch) as unchanged as can
be: its image ``quay.io/fluentd_elasticsearch/fluentd`` is not in the cluster's registry, so the pod
runs ``busybox`` instead, with a ``command`` that keeps it running the way fluentd would (busybox's own
default, ``sh``, exits at once). Everything else -- kube-system, the control-plane tolerations, the
resources, the hostPath volume, the grace period -- is the docs'.

The test follows the daemon through the controllers: the DaemonSet controller puts one pod on the node
(pinned by node affinity, bound by the scheduler), status counts reach 1/1, a template change rolls the
pod, and deleting the DaemonSet lets the garbage collector remove its pod.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.root]

DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
      # these tolerations are to have the daemonset runnable on control plane nodes
      # remove them if your control plane nodes should not run pods
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
      containers:
      - name: fluentd-elasticsearch
        image: busybox  # docs: quay.io/fluentd_elasticsearch/fluentd:v2.5.2
        command: ["sh", "-c", "ls /var/log > /dev/null && sleep 3600"]  # not in the docs (see above)
        resources:
          limits:
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
        volumeMounts:
        - name: varlog
          mountPath: /var/log
      # it may be desirable to set a high priority class to ensure that a DaemonSet Pod
      # preempts running Pods
      # priorityClassName: important
      terminationGracePeriodSeconds: 30
      volumes:
      - name: varlog
        hostPath:
          path: /var/log
"""

NS = ("-n", "kube-system")


def daemon_pods(skiff) -> list[dict]:  # type: ignore[no-untyped-def]
    pods = skiff.get_json("pods", *NS, "-l", "name=fluentd-elasticsearch")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def ds_status(skiff) -> dict:  # type: ignore[no-untyped-def]
    return skiff.get_json("daemonsets", "fluentd-elasticsearch", *NS).get("status", {})


def test_docs_daemonset_runs_rolls_and_is_collected(skiff, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "daemonset.yaml"
    manifest.write_text(DAEMONSET)
    assert "daemonset" in skiff("apply", "-f", str(manifest)).stdout.lower()
    node = cluster.layout.node_name

    def one_ready() -> dict | None:
        st = ds_status(skiff)
        keys = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled")
        return st if all(st.get(k) == 1 for k in keys) else None

    st = skiff.wait_for("the daemon pod ready (status 1/1)", one_ready, timeout=120)
    assert st.get("numberAvailable") == 1 and not st.get("numberMisscheduled")
    (pod,) = daemon_pods(skiff)
    assert pod["spec"]["nodeName"] == node
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    keys = {(t.get("key"), t.get("effect")) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
    assert ("node-role.kubernetes.io/control-plane", "NoSchedule") in keys
    first_hash = pod["metadata"]["labels"]["controller-revision-hash"]
    table = skiff("get", "daemonsets", *NS).stdout
    assert "fluentd-elasticsearch" in table

    # A template change rolls the pod (RollingUpdate, maxUnavailable 1 by default).
    manifest.write_text(DAEMONSET.replace("sleep 3600", "sleep 3601"))
    skiff("apply", "-f", str(manifest))

    def rolled() -> dict | None:
        pods = daemon_pods(skiff)
        ready = one_ready()
        if ready and len(pods) == 1 and pods[0]["metadata"]["labels"]["controller-revision-hash"] != first_hash:
            return pods[0]
        return None

    new = skiff.wait_for("the pod replaced with the new template", rolled, timeout=120)
    assert "sleep 3601" in new["spec"]["containers"][0]["command"][-1]
    assert new["metadata"]["labels"]["pod-template-generation"] == "2"

    # Deleting the DaemonSet: the garbage collector removes its pod.
    skiff("delete", "daemonset", "fluentd-elasticsearch", *NS)
    skiff.wait_for(
        "the daemon pod collected",
        lambda: not skiff.get_json("pods", *NS, "-l", "name=fluentd-elasticsearch")["items"],
        timeout=120,
    )
