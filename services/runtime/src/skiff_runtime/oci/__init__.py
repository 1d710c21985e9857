"""skiff_runtime.oci: the OCI executor (bundle in, supervised isolated process out).

Two sides of a process boundary, kept in two folders as containerd keeps its daemon and its
``containerd-shim-runc-v2`` apart:

- ``executor/``  the daemon side, in the runtime service: the ``Executor`` protocol and its registered
                 implementations (``skiff``, ``runc``, ``crun``), the clients of the shims and of the
                 shim factory. Its ``__init__`` is the public API.
- ``shim/``      the shim side: the shim factory, the per-container shim and supervisor, the container
                 init, rootfs, exec inside the container, the runc/crun backend. Everything a shim
                 runs is here, and ``python -m skiff_runtime.oci.shim`` (or ``.shim.zygote``) loads
                 nothing from ``executor/``.
- ``wire.py``    what passes between them: the state record, the create answer, the control socket's
                 operations, the factory handshake. Both sides import it; it imports neither.

Shared by both sides, importing neither: ``errors.py`` (plain exceptions, mapped to gRPC codes by the
CRI layer), ``spec.py`` (config.json validation; ``jsonfields.py`` its typed accessors), ``caps.py``
(capabilities and credentials), ``syscalls.py`` (ctypes wrappers), ``cgroups/`` (v1 and v2 drivers;
``devices.py`` is v2's eBPF device allow-list), ``runc_cli.py`` (how runc/crun are invoked), and
``testing.py`` (a busybox bundle for tests and the benchmark). ``.importlinter`` checks these rules.

This ``__init__`` imports nothing, so a shim process never loads the daemon side.
"""
