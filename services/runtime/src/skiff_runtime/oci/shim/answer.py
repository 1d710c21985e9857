"""Answering create(), for both backends (``native.py`` and ``runc.py``): the ``created`` record, the
one ``CreateReply`` on the ready fd, and what a failure answers.

The answer is written exactly once and the fd closed: the executor reads it to EOF. Writing fails with
``EPIPE`` when nobody listens any more (create() was cancelled or its caller died); a shim that finds
itself unheard after "created" tears itself down (``Supervisor.abandon``), so nothing is left running
that nobody knows about.
"""

from __future__ import annotations

import argparse
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from skiff_runtime.oci.errors import InvalidBundle
from skiff_runtime.oci.shim.supervisor import Supervisor
from skiff_runtime.oci.wire import CreateReply, Record, start_time


def report(fd: int, reply: CreateReply) -> bool:
    """Answer create(); False when nobody listens any more (the caller was cancelled or died)."""
    try:
        os.write(fd, reply.encode())
        return True
    except BrokenPipeError:
        return False
    finally:
        os.close(fd)


def failure(cause: Exception) -> CreateReply:
    """What a failed create answers; anything but a bad config.json is a bug or a host problem, so its
    traceback goes to ``shim.log`` too."""
    if not isinstance(cause, InvalidBundle):
        traceback.print_exc()
    return CreateReply.failed(cause)


def ready_callback(sup: Supervisor, ready: int, phases: tuple[tuple[str, int, int], ...] = ()) -> Callable[[], None]:
    """Answer "created" once the control socket listens; tear down if nobody hears it."""

    def on_ready() -> None:
        if not report(ready, CreateReply.created(sup.rec.pid, phases)):
            sup.abandon()  # create() was given up on: leave nothing behind

    return on_ready


def created_record(args: argparse.Namespace, pid: int, cgroups_path: str) -> Record:
    """The record of a container whose init ``pid`` waits before exec, supervised by this process."""
    return Record(
        id=args.id,
        bundle=str(Path(args.bundle).resolve()),
        status="created",
        pid=pid,
        pid_start=start_time(pid) or 0,
        shim_pid=os.getpid(),
        shim_start=start_time(os.getpid()) or 0,
        cgroups_path=cgroups_path,
        log_path=args.log_path,
        created_at=time.time(),
    )
