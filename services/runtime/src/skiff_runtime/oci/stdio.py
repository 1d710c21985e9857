"""A container's empty stdin: an empty pipe, never the host's ``/dev/null``.

A container whose stdin is the host's ``/dev/null`` holds an fd to the host's device node, and whoever
owns or has ``CAP_FOWNER`` over that inode can ``chmod``/``chown`` it through ``/proc/self/fd/0``: a
container's root without a user namespace could make the host's ``/dev/null`` unusable for everyone.
crun without its 2025 fix (crun#1847; this node has 1.8) even does it itself: it fchowns the stdio it
hands a container to the container's user (crun#1845; runc skips ``/dev/null``), which made the host's
``/dev/null`` the pod root's host uid in a user-namespace pod. The read end of a pipe whose write end
is closed reads EOF at once, exactly like ``/dev/null``, and is an anonymous inode nobody else uses, so
a runtime may chown it freely. Used for the container init, ExecSync and exec sessions without stdin,
and for every runc/crun create and exec.
"""

from __future__ import annotations

import os


def empty_stdin() -> int:
    """A new fd reading EOF at once (the caller closes it, or dup2s it to 0 and closes it)."""
    r, w = os.pipe()
    os.close(w)
    return r
