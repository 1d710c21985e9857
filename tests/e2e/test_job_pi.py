"""The Kubernetes docs' first Job, `pi` (concepts/workloads/controllers/job, examples/controllers/job.yaml),
on a real cluster: it computes pi to 2000 places and completes.

The docs run ``perl -Mbignum=bpi -wle 'print bpi(2000)'`` in ``perl:5.34.0``; the local registry serves
only busybox, so the container is ``busybox`` and computes the same number with busybox's ``bc``
(``4*a(1)`` at scale 2000, lines unwrapped). Everything else -- the name, restartPolicy Never,
backoffLimit 4 -- is the docs'. As the docs show, the Job reaches Complete 1/1 and its pod's log is pi.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]

JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: busybox  # docs: perl:5.34.0
        command: ["sh", "-c", "echo 'scale=2000; 4*a(1)' | BC_LINE_LENGTH=0 bc -l"]  # docs: perl bpi(2000)
      restartPolicy: Never
  backoffLimit: 4
"""
PI_50 = "3.14159265358979323846264338327950288419716939937510"


def test_docs_pi_job_computes_pi(skiff, cluster: LocalCluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "job.yaml"
    manifest.write_text(JOB)
    assert skiff("apply", "-f", str(manifest)).stdout.strip().endswith("/pi created")
    try:

        def complete() -> dict | None:
            job = skiff.get_json("job", "pi")
            conds = job.get("status", {}).get("conditions", [])
            return job if any(c["type"] == "Complete" and c["status"] == "True" for c in conds) else None

        job = skiff.wait_for("the pi Job Complete", complete, timeout=300)
        assert job["status"]["succeeded"] == 1 and not job["status"].get("failed")
        (pod,) = skiff.get_json("pods", "-l", "batch.kubernetes.io/job-name=pi")["items"]
        digits = skiff("logs", pod["metadata"]["name"]).stdout.strip()
        assert digits.startswith(PI_50), digits[:80]
        assert len(digits) == 2002  # "3." and 2000 places
        row = next(line.split() for line in skiff("get", "jobs").stdout.splitlines() if line.startswith("pi "))
        assert row[1:3] == ["Complete", "1/1"], row
    finally:
        skiff("delete", "job", "pi", check=False)
