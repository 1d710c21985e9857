"""Eviction thresholds as the kubelet's flags spell them: `memory.available<100Mi,nodefs.available<10%`.

Hard thresholds act at once; soft ones (`--eviction-soft`) only once observed for their grace period
(`--eviction-soft-grace-period memory.available=1m30s`). Values are quantities or percentages of the
signal's capacity. Bad input is a ValueError naming the flag and the entry, never a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skiff_common.apimachinery.quantity import int_value

SIGNALS = ("memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "pid.available")
DEFAULT_HARD = "memory.available<100Mi,nodefs.available<10%,imagefs.available<15%,nodefs.inodesFree<5%"
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?$")


@dataclass(frozen=True)
class Threshold:
    signal: str
    quantity: int | None = None  # absolute (bytes, inodes, pids)
    percentage: float | None = None  # of capacity, 0-1
    grace_period: float = 0.0  # seconds; 0 for hard thresholds
    soft: bool = False

    def value(self, capacity: int) -> int:
        if self.quantity is not None:
            return self.quantity
        return int((self.percentage or 0.0) * capacity)

    def text(self) -> str:
        return f"{self.percentage * 100:g}%" if self.percentage is not None else str(self.quantity)


def _seconds(text: str, flag: str) -> float:
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise ValueError(f"--{flag}: invalid duration {text!r} (use e.g. 90s, 1m30s)")
    h, mins, s = m.groups()
    return int(h or 0) * 3600 + int(mins or 0) * 60 + float(s or 0)


def parse(hard: str, soft: str = "", soft_grace: str = "") -> list[Threshold]:
    graces: dict[str, float] = {}
    for entry in filter(None, (e.strip() for e in soft_grace.split(","))):
        signal, sep, value = entry.partition("=")
        if not sep or signal not in SIGNALS:
            raise ValueError(
                f"--eviction-soft-grace-period: {entry!r}: expected <signal>=<duration>, signals: {SIGNALS}"
            )
        graces[signal] = _seconds(value, "eviction-soft-grace-period")
    out = []
    for flag, text, is_soft in (("eviction-hard", hard, False), ("eviction-soft", soft, True)):
        for entry in filter(None, (e.strip() for e in text.split(","))):
            signal, sep, value = entry.partition("<")
            if not sep or signal not in SIGNALS:
                raise ValueError(f"--{flag}: {entry!r}: expected <signal><<quantity or %>, signals: {SIGNALS}")
            if is_soft and signal not in graces:
                raise ValueError(
                    f"--{flag}: {entry!r}: a soft threshold needs a grace period (--eviction-soft-grace-period)"
                )
            try:
                if value.endswith("%"):
                    pct = float(value[:-1])
                    if not 0 <= pct <= 100:
                        raise ValueError
                    t = Threshold(signal, percentage=pct / 100)
                else:
                    t = Threshold(signal, quantity=int_value(value))
            except (ValueError, ArithmeticError):
                raise ValueError(f"--{flag}: {entry!r}: invalid quantity or percentage {value!r}") from None
            out.append(Threshold(t.signal, t.quantity, t.percentage, graces.get(signal, 0.0), is_soft))
    return out
