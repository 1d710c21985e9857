import sys
from pathlib import Path

# Shared etcd/apiserver fixtures live with skiff-client's tests (see skiff_cluster_fixture.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "libs" / "skiff-client" / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from skiff_cluster_fixture import apiserver, client, etcd  # noqa: F401
