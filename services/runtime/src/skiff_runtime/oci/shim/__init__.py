"""The shim side of the OCI executor: everything that runs outside the runtime service, in the shim
factory, in a container's shim and in the processes a shim forks. Nothing here imports the daemon side
(``oci/executor/``); both sides share ``oci/wire.py`` (records and messages) and the libraries beside it
(``spec.py``, ``caps.py``, ``syscalls.py``, ``cgroups/``). This ``__init__`` imports nothing, so a shim
or helper process loads only what it runs.

Lifecycle (one shim per container, like containerd-shim)::

    executor.create()
      └─ the shim factory (zygote.py) forks a child that setsid()s and calls main.main()
         [fallback: Popen(python -m skiff_runtime.oci.shim, start_new_session=True)]
         ── [fallback only] main() forks once more and the first process exits, so the shim is
           re-parented to init/subreaper: the runtime service can restart or exit without the shim
           being its zombie. The factory's children need no such step (see zygote.py).
           shim: validate config.json, create pipes,
                 unshare(CLONE_NEWPID) / setns(pid) for its children, fork ──> container init
                 create the cgroup, write the init's pid to cgroup.procs, "C" on the cgroup pipe
                 ──> (the init sets up namespaces and rootfs meanwhile; waits for "C" before its
                 cgroup namespace / first cgroup mount)
                 bind the control socket, write state.json (created): still overlapping the init
                 <── "R" on the sync pipe (rootfs ready, blocked before exec)
                 answer on the ready fd: {"ok": true, "pid": ...}
                 serve the control socket (supervisor.py) until "shutdown"

Errors before "created" are answered on the ready fd (``wire.CreateReply``); the shim removes the
cgroup it made and exits, and ``create()`` raises. The ready fd comes from the executor
(``--ready-fd``: inherited, or passed to the factory with SCM_RIGHTS); its EOF without a message means
the shim crashed, and ``shim.log`` in the state dir has its traceback.

- ``main.py``            the shim's entry point (``python -m skiff_runtime.oci.shim``): flags, backend
- ``native.py``          our own isolation: fork the container init, join its cgroup, start handshake
- ``runc.py``            the runc/crun backend: ``<runtime> create``/``start`` do the isolation
- ``answer.py``          answering create() and the ``created`` record, for both backends
- ``supervisor.py``      the event loop after ``created``: logs, reaping, control socket, state machine
- ``container_init.py``  the container init between fork and exec; ``rootfs.py`` its mounts
- ``execsync.py``        ``exec`` requests served by the shim; ``nsexec.py`` the fallback helper process
                         (also used by the streaming server's exec helper)
- ``logs.py``            the CRI log format writer
- ``zygote.py``          the shim factory: one pre-imported process per state root forks the shims
"""
