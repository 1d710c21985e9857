"""Status: what a plugin answers at an extension point.

The code decides what happens to the pod, not the plugin: Unschedulable pods are retried when a cluster
event their failing plugin declared may help; UnschedulableAndUnresolvable ones are also skipped by
preemption (evicting pods on that node cannot help); Error is a bug or an API failure and backs off;
Skip tells the framework to leave the plugin out of the rest of the cycle; Wait (Permit only) parks the
pod until the plugin allows or rejects it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Code(enum.Enum):
    SUCCESS = "Success"
    ERROR = "Error"
    UNSCHEDULABLE = "Unschedulable"
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    WAIT = "Wait"
    SKIP = "Skip"
    PENDING = "Pending"


@dataclass(frozen=True, slots=True)
class Status:
    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS or self.code is Code.SKIP

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)

    @classmethod
    def success(cls) -> Status:
        return SUCCESS

    @classmethod
    def skip(cls) -> Status:
        return SKIP

    @classmethod
    def unschedulable(cls, *reasons: str, unresolvable: bool = False) -> Status:
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return cls(code, tuple(reasons))

    @classmethod
    def error(cls, reason: str) -> Status:
        return cls(Code.ERROR, (reason,))

    @classmethod
    def wait(cls) -> Status:
        return cls(Code.WAIT)


SUCCESS = Status()
SKIP = Status(Code.SKIP)
