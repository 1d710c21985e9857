"""Non-blocking reads and writes on a raw fd (a pty master) from the event loop.

asyncio's pipe transports would do, but one fd serving both directions would need two transports over a
``dup`` sharing one ``O_NONBLOCK`` flag, and a pty master reports the end of the session as ``EIO``
rather than EOF; a reader and a writer in a few lines are clearer.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():  # the loop may poll the fd again before the waiting task runs
        ready.set_result(None)


async def read_chunk(fd: int, size: int = 65536) -> bytes:
    """The next chunk; b"" at EOF (for a pty master: once no process holds the slave any more)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return os.read(fd, size)
        except BlockingIOError:
            pass
        except OSError as err:
            if err.errno == errno.EIO:
                return b""
            raise
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _wake, ready)
        try:
            await ready
        finally:
            loop.remove_reader(fd)


async def write_all(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
            continue
        except BlockingIOError:
            pass
        ready = loop.create_future()
        loop.add_writer(fd, _wake, ready)
        try:
            await ready
        finally:
            loop.remove_writer(fd)


def close_quietly(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
