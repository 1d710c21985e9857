"""The image GC policy from the kubelet's flags, validated as Kubernetes validates its configuration.

    --image-gc-high-threshold 85   disk usage (percent) of the image filesystem that starts a collection
    --image-gc-low-threshold 80    the usage a collection frees down to
    --image-minimum-gc-age 2m      an image first seen less than this ago is never removed
    --image-maximum-gc-age 0s      an image unused for longer is removed whatever the usage (0: off)

high 100 turns collection by usage off, as in Kubernetes. Bad values are a ValueError naming the flag.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageGCPolicy:
    high_threshold_percent: int = 85
    low_threshold_percent: int = 80
    min_age: float = 120.0  # seconds
    max_age: float = 0.0  # seconds; 0 = off

    def validate(self) -> None:
        for flag, value in (
            ("image-gc-high-threshold", self.high_threshold_percent),
            ("image-gc-low-threshold", self.low_threshold_percent),
        ):
            if not 0 <= value <= 100:
                raise ValueError(f"--{flag}: {value} must be between 0 and 100, inclusive")
        if self.low_threshold_percent >= self.high_threshold_percent:
            raise ValueError(
                f"--image-gc-low-threshold: {self.low_threshold_percent} must be less than "
                f"--image-gc-high-threshold ({self.high_threshold_percent})"
            )
        if self.min_age < 0:
            raise ValueError(f"--image-minimum-gc-age: {self.min_age:g}s must not be negative")
        if self.max_age < 0:
            raise ValueError(f"--image-maximum-gc-age: {self.max_age:g}s must not be negative")
        if self.max_age and self.max_age < self.min_age:
            raise ValueError(
                f"--image-maximum-gc-age: {self.max_age:g}s must be greater than --image-minimum-gc-age "
                f"({self.min_age:g}s)"
            )
