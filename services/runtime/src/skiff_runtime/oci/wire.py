"""What crosses the boundary between the executor (``executor/``, in the runtime service) and the shim
side (``shim/``, in the shim factory, the shims and the processes they fork): the one module both sides
import. It imports neither (``.importlinter``: "the OCI executor and shim sides stay apart").

Four channels, all local to the node:

1. **The record**, ``<state_root>/<id>/state.json`` (``Record``). The shim is the only writer; it
   rewrites the whole file atomically (write a temp file, rename) on every transition, so a reader
   never sees a torn record. The executor only reads it.

   No fsync: every transition (created, running, stopped) is on the critical path of create/start/
   wait, and an fsync costs milliseconds on a disk-backed state root (nothing on the default tmpfs
   ``/run``). What it would protect against is a machine crash, but the processes a record describes
   die with the machine anyway; the worst case, an empty record for a container that was being
   created when the power went, is read as "no such container" (``read_record`` returns None).

   Because pids are recycled, every pid is stored with its start time (field 22 of
   ``/proc/<pid>/stat``) and a process only counts as alive when both still match (``is_alive``).

2. **The create answer** on the ready pipe (``CreateReply``): one JSON object, written once by the
   shim; EOF without one means the shim crashed (its traceback is in ``shim.log``).

3. **The control socket** ``<state_dir>/shim.sock``: one JSON object per line, one request per
   connection. Request ``{"op": ...}``, answer ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``:

   ==============  ========================================================================
   ``start``       release the init blocked before exec; answers once exec succeeded or failed
   ``kill``        ``{"signal": n}``: signal the init (the shim is its parent: no pid-reuse race)
   ``wait``        answers when the container has stopped (the record is already updated)
   ``reopen_log``  close and reopen the log path (log rotation)
   ``exec``        ``{"request": exec_request(...), "timeout": s}``: run a command in the container;
                   answers ``exit_code`` + base64 ``stdout``/``stderr``, or ``timeout: true``, or
                   ``unsupported: true`` (not running, or a runc/crun shim)
   ``shutdown``    SIGKILL the init if still alive, remove the cgroup (native mode; answers
                   ``cgroup_removed``), answer, then the shim exits at once (used by ``delete``)
   ==============  ========================================================================

   The socket is only reachable through the state directory (mode 0700, root): that is the access
   control. ``sun_path`` is limited to 108 bytes, so a long state path is reached through
   ``/proc/self/fd/<dirfd>/shim.sock``.

4. **The shim factory's socket** ``<state_root>/zygote.sock`` (``SOCK_SEQPACKET``, uid 0 only, checked
   with ``peer_uid`` on both ends): the executor sends ``{"argv": [...shim flags...], "code":
   code_id()}`` with the ready pipe and ``shim.log`` as ``SCM_RIGHTS``; the factory answers ``{"ok":
   true, "pid": n}`` after forking, ``{"ok": false, "stale": true}`` when it runs other code than
   ``code`` names, or ``{"ok": false, "error": ...}`` without forking.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skiff_runtime.oci.errors import InvalidBundle

if TYPE_CHECKING:
    from skiff_runtime.oci.spec import Spec

STATE_FILE = "state.json"
SHIM_SOCKET = "shim.sock"
SHIM_LOG = "shim.log"
FACTORY_SOCKET = "zygote.sock"

# -- 1. the record -----------------------------------------------------------------------------------


@dataclass
class Record:
    id: str
    bundle: str
    status: str  # created | running | stopped
    pid: int
    pid_start: int
    shim_pid: int
    shim_start: int
    cgroups_path: str
    log_path: str | None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False


def write_record(state_dir: Path, rec: Record) -> None:
    tmp = state_dir / f".{STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(asdict(rec)).encode())
    finally:
        os.close(fd)
    os.rename(tmp, state_dir / STATE_FILE)


def read_record(state_dir: Path) -> Record | None:
    try:
        return Record(**json.loads((state_dir / STATE_FILE).read_text()))
    except (FileNotFoundError, ValueError, TypeError):  # TypeError: fields of another layout
        return None


def start_time(pid: int) -> int | None:
    """Start time in clock ticks since boot, or None if the pid does not exist (or is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def is_alive(pid: int, start: int) -> bool:
    return pid > 0 and start_time(pid) == start


# -- 2. the create answer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateReply:
    """The shim's one answer to create(). A failure names the config.json field (``field``/``reason``,
    raised as ``InvalidBundle`` by the executor) or says what else went wrong (``error``)."""

    ok: bool
    pid: int = 0
    field: str = ""
    reason: str = ""
    error: str = ""
    # What the shim spent its time on: (phase, start, end) in wall-clock ns. The shim does not trace
    # (it starts in milliseconds and exports nothing); the runtime turns these into its spans.
    phases: tuple[tuple[str, int, int], ...] = ()

    @classmethod
    def created(cls, pid: int, phases: tuple[tuple[str, int, int], ...] = ()) -> CreateReply:
        return cls(ok=True, pid=pid, phases=phases)

    @classmethod
    def failed(cls, cause: Exception | str) -> CreateReply:
        if isinstance(cause, InvalidBundle):
            return cls(ok=False, field=cause.field, reason=cause.reason)
        return cls(ok=False, error=str(cause))

    def encode(self) -> bytes:
        msg: dict[str, object]
        if self.ok:
            msg = {"ok": True, "pid": self.pid, "phases": [list(p) for p in self.phases]}
        elif self.field:
            msg = {"ok": False, "kind": "invalid", "field": self.field, "reason": self.reason}
        else:
            msg = {"ok": False, "kind": "error", "error": self.error}
        return json.dumps(msg).encode()

    @classmethod
    def decode(cls, raw: bytes) -> CreateReply | None:
        """None when there is no answer (EOF: the shim crashed) or it is not one of ours."""
        try:
            msg = json.loads(raw) if raw else None
        except ValueError:
            return None
        if not isinstance(msg, dict):
            return None
        if msg.get("ok"):
            return cls.created(int(msg.get("pid", 0)), _phases(msg.get("phases")))
        if msg.get("kind") == "invalid":
            return cls(ok=False, field=str(msg.get("field")), reason=str(msg.get("reason")))
        return cls(ok=False, error=str(msg.get("error") or ""))


def _phases(raw: object) -> tuple[tuple[str, int, int], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        (str(p[0]), int(p[1]), int(p[2]))
        for p in raw
        if isinstance(p, list) and len(p) == 3 and all(isinstance(t, int) for t in p[1:])
    )


# -- 3. the control socket ---------------------------------------------------------------------------


class Op(enum.StrEnum):
    """The control socket's operations (a str: it goes into the JSON as is)."""

    START = "start"
    KILL = "kill"
    WAIT = "wait"
    REOPEN_LOG = "reopen_log"
    EXEC = "exec"
    SHUTDOWN = "shutdown"


def exec_request(rec: Record, spec: Spec, argv: list[str], env: list[str]) -> dict[str, Any]:
    """What every exec path takes (the shim's own exec, the ``nsexec`` fallback, a streaming exec's
    ``nsenter``): the container init as recorded (pid and start time), its cgroup, the command, the
    whole environment, and the parsed process spec (credentials, capabilities, cwd)."""
    return {
        "pid": rec.pid,
        "pid_start": rec.pid_start,
        "cgroups_path": rec.cgroups_path,
        "argv": argv,
        "env": env,
        "spec": json.loads(spec.to_json()),
    }


# -- 4. the shim factory -----------------------------------------------------------------------------

_UCRED = struct.Struct("3i")


def ucred(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a unix socket (``SO_PEERCRED``)."""
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return pid, uid, gid


def peer_uid(sock: socket.socket) -> int:
    return ucred(sock)[1]


_code_cache: tuple[float, str] | None = None  # (monotonic time, id)


def code_id() -> str:
    """Identifies the interpreter and this package's code as installed on disk *now* (paths, sizes,
    mtimes of every module under ``oci/``). A factory forks shims from the code it imported at its
    start; the executor sends its own id with each request, and a factory started from other code
    steps aside, so even a runtime that was not restarted gets a new factory after an upgrade on its
    next create (and not a factory restart on every create, as a per-process value would cause).
    Recomputed at most once a second: it costs a few dozen stats."""
    global _code_cache
    now = time.monotonic()
    if _code_cache is not None and now - _code_cache[0] < 1.0:
        return _code_cache[1]
    h = hashlib.sha256(sys.executable.encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for folder, dirs, files in os.walk(here):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                st = os.stat(path)
                h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    _code_cache = (now, h.hexdigest()[:16])
    return _code_cache[1]
