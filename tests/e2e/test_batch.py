"""Jobs and CronJobs end to end on a real cluster, with unchanged manifests from the Kubernetes docs.

* Job: "Parallel Processing using Expansions" (tasks/job/parallel-processing-expansion), the docs'
  ``job-tmpl.yaml`` (busybox:1.28) expanded for apple, banana and cherry with the docs' own ``sed`` step;
  each Job runs to Complete and its pod prints "Processing item <item>", as the docs show.
* Indexed Job (our own manifest, as the docs' Indexed Job but without the downward API volume, which
  the kubelet lacks): every pod sees its ``JOB_COMPLETION_INDEX`` and the hostname ``<job>-<index>``.
* CronJob: "Running Automated Tasks with a CronJob" (tasks/job/automated-tasks-with-cron-jobs), the docs'
  ``cronjob.yaml`` ("hello", ``* * * * *``, busybox:1.28, restartPolicy OnFailure): it starts a Job on the
  minute, the Job completes, its pod prints "Hello from the Kubernetes cluster", and the CronJob's status
  records lastScheduleTime and lastSuccessfulTime.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

# content/en/examples/application/job/job-tmpl.yaml, unchanged.
JOB_TMPL = """apiVersion: batch/v1
kind: Job
metadata:
  name: process-item-$ITEM
  labels:
    jobgroup: jobexample
spec:
  template:
    metadata:
      name: jobexample
      labels:
        jobgroup: jobexample
    spec:
      containers:
      - name: c
        image: busybox:1.28
        command: ["sh", "-c", "echo Processing item $ITEM && sleep 5"]
      restartPolicy: Never
"""

# content/en/examples/application/job/cronjob.yaml, unchanged.
CRONJOB = """apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: hello
            image: busybox:1.28
            imagePullPolicy: IfNotPresent
            command:
            - /bin/sh
            - -c
            - date; echo Hello from the Kubernetes cluster
          restartPolicy: OnFailure
"""


def _condition(obj: dict, type_: str) -> bool:
    return any(c["type"] == type_ and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))


def _if(obj: dict, test) -> dict | None:  # type: ignore[no-untyped-def]
    return obj if test(obj) else None


def _pods_of(skiff, job: str) -> list[dict]:  # type: ignore[no-untyped-def]
    out = skiff("get", "pods", "-l", f"batch.kubernetes.io/job-name={job}", "-o", "json").stdout
    return json.loads(out).get("items", [])


def test_expansion_jobs_complete_and_print_their_item(skiff, cluster: LocalCluster, tmp_path: Path) -> None:
    items = ("apple", "banana", "cherry")
    for item in items:  # the docs: cat job-tmpl.yaml | sed "s/\\$ITEM/$i/" > ./jobs/job-$i.yaml
        (tmp_path / f"job-{item}.yaml").write_text(JOB_TMPL.replace("$ITEM", item))
    try:
        for item in items:
            out = skiff("apply", "-f", str(tmp_path / f"job-{item}.yaml")).stdout.strip()
            assert out.endswith(f"/process-item-{item} created"), out
        for item in items:
            name = f"process-item-{item}"
            job = skiff.wait_for(
                f"{name} Complete",
                lambda n=name: _if(skiff.get_json("job", n), lambda j: _condition(j, "Complete")),
                timeout=180,
            )
            assert job["status"]["succeeded"] == 1 and job["status"].get("completionTime")
            (pod,) = _pods_of(skiff, name)
            assert pod["status"]["phase"] == "Succeeded"
            # The docs' template pod name is ignored: the Job's pods are named <job>-<random>.
            assert pod["metadata"]["name"].startswith(f"{name}-")
            assert "batch.kubernetes.io/job-tracking" not in pod["metadata"].get("finalizers", [])
            logs = skiff("logs", pod["metadata"]["name"]).stdout
            assert logs.strip() == f"Processing item {item}"
        table = skiff("get", "jobs").stdout.splitlines()
        assert table[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
        for item in items:
            row = next(line.split() for line in table if line.startswith(f"process-item-{item} "))
            assert row[1:3] == ["Complete", "1/1"], row
    finally:
        for item in items:
            name = f"process-item-{item}"
            skiff("delete", "job", name, check=False)
            for pod in _pods_of(skiff, name):
                skiff("delete", "pod", pod["metadata"]["name"], check=False)


def test_cronjob_hello_runs_every_minute(skiff, cluster: LocalCluster, tmp_path: Path) -> None:
    manifest = tmp_path / "cronjob.yaml"
    manifest.write_text(CRONJOB)
    out = skiff("apply", "-f", str(manifest)).stdout.strip()
    assert out.endswith("/hello created"), out
    try:
        cj = skiff.wait_for(
            "the CronJob's first successful run",
            lambda: _if(skiff.get_json("cronjob", "hello"), lambda c: c.get("status", {}).get("lastSuccessfulTime")),
            timeout=240,
        )
        assert cj["status"]["lastScheduleTime"]
        header, row = skiff("get", "cronjobs").stdout.splitlines()[:2]
        assert header.split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
        assert row.split()[:8] == ["hello", "*", "*", "*", "*", "*", "<none>", "False"], row
        jobs = [
            j
            for j in json.loads(skiff("get", "jobs", "-o", "json").stdout).get("items", [])
            if any(r["kind"] == "CronJob" and r["name"] == "hello" for r in j["metadata"].get("ownerReferences", []))
        ]
        done = [j for j in jobs if _condition(j, "Complete")]
        assert done, jobs
        job = done[0]
        scheduled = datetime.fromisoformat(
            job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        )
        assert job["metadata"]["name"] == f"hello-{int(scheduled.timestamp()) // 60}"
        (pod,) = [p for p in _pods_of(skiff, job["metadata"]["name"]) if p["status"]["phase"] == "Succeeded"]
        assert "Hello from the Kubernetes cluster" in skiff("logs", pod["metadata"]["name"]).stdout
    finally:
        skiff("delete", "cronjob", "hello", check=False)
        for j in json.loads(skiff("get", "jobs", "-o", "json").stdout).get("items", []):
            if j["metadata"]["name"].startswith("hello-"):
                for pod in _pods_of(skiff, j["metadata"]["name"]):
                    skiff("delete", "pod", pod["metadata"]["name"], check=False)
                skiff("delete", "job", j["metadata"]["name"], check=False)


INDEXED = """apiVersion: batch/v1
kind: Job
metadata:
  name: indexed
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: worker
        image: busybox
        command: ["sh", "-c", "echo index=$JOB_COMPLETION_INDEX host=$(hostname)"]
"""


def test_indexed_job_pods_know_their_index(skiff, cluster: LocalCluster, tmp_path: Path) -> None:
    manifest = tmp_path / "indexed.yaml"
    manifest.write_text(INDEXED)
    skiff("apply", "-f", str(manifest))
    try:
        job = skiff.wait_for(
            "indexed Complete", lambda: _if(skiff.get_json("job", "indexed"), lambda j: _condition(j, "Complete")), 180
        )
        assert job["status"]["completedIndexes"] == "0-2" and job["status"]["succeeded"] == 3
        seen = set()
        for pod in _pods_of(skiff, "indexed"):
            index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            out = skiff("logs", pod["metadata"]["name"]).stdout.strip()
            assert out == f"index={index} host=indexed-{index}", out
            seen.add(index)
        assert seen == {"0", "1", "2"}
    finally:
        skiff("delete", "job", "indexed", check=False)
        for pod in _pods_of(skiff, "indexed"):
            skiff("delete", "pod", pod["metadata"]["name"], check=False)
