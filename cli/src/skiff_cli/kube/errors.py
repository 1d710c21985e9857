"""One error layer: every failure ends as one line in kubectl's wording and exit status 1, never a traceback.

kubectl's rules (cmdutil.CheckErr), kept here so every verb shares them:
- a Status from the server with reason Invalid: `The <Kind> "<name>" is invalid: <field>: <message>`, one
  cause per `* ` line when there are several;
- any other Status: `Error from server (<Reason>): <message>`; a 401: `error: You must be logged in to the
  server (<message>)`;
- no server listening: `The connection to the server <host:port> was refused - did you specify the right
  host or port?`, to which we add the hint to start a cluster;
- the user's own mistakes (a missing file, an unknown resource type): `error: ...`.
"""

from __future__ import annotations

from typing import Any


class CliError(Exception):
    """A message ready to print, and the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ApiError(CliError):
    """A Kubernetes Status the server answered with."""

    def __init__(self, status: dict[str, Any], http_code: int) -> None:
        self.status = status
        self.http_code = http_code
        self.reason = str(status.get("reason") or "")
        super().__init__(status_text(status, http_code))


def with_source(err: ApiError, verb: str, source: str) -> ApiError:
    """kubectl's AddSourceToErr: `error when creating "FILE": <message>` (Invalid keeps its own form)."""
    status = dict(err.status)
    status["message"] = f'error when {verb} "{source}": {status.get("message", "")}'
    return ApiError(status, err.http_code)


def status_text(status: dict[str, Any], http_code: int) -> str:
    reason = status.get("reason") or ""
    message = status.get("message") or ""
    details = status.get("details") or {}
    if reason == "Invalid":
        head = "The request is invalid"
        if details.get("kind") or details.get("name"):
            head = f'The {details.get("kind", "")} "{details.get("name", "")}" is invalid'
        causes = [
            f"{c.get('field', '')}: {c.get('message', '')}" if c.get("field") else str(c.get("message", ""))
            for c in details.get("causes") or []
        ]
        if not causes:
            return f"{head}: {message}" if message and not details else head
        if len(causes) == 1:
            return f"{head}: {causes[0]}"
        return f"{head}: \n" + "\n".join(f"* {c}" for c in causes)
    if http_code == 401 or reason == "Unauthorized":
        return f"error: You must be logged in to the server ({message or 'Unauthorized'})"
    if reason:
        return f"Error from server ({reason}): {message}"
    return f"Error from server: {message}"


def refused(hostport: str) -> CliError:
    return CliError(
        f"The connection to the server {hostport} was refused - did you specify the right host or port?"
        " (is the cluster up? start one with `skiff up`)"
    )
