import sys
from pathlib import Path

# The shared etcd/apiserver fixtures live with skiff-client's tests (skiff_cluster_fixture.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "libs" / "skiff-client" / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kube_fixture import kube  # noqa: F401
from skiff_cluster_fixture import apiserver, client, etcd  # noqa: F401
