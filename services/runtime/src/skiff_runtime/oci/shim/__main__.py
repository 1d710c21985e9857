"""``python -m skiff_runtime.oci.shim ...``: the shim spawned without the factory (see ``main.py``)."""

import sys

from skiff_runtime.oci.shim.main import main

sys.exit(main())
