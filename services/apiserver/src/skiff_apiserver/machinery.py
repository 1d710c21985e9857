"""The API machinery the apiserver uses, in one import: `from skiff_apiserver.machinery import kinds, ...`.

All of it is skiff_common.apimachinery (kinds registry, strict JSON conversion, selectors, validation
primitives); this module only names what the apiserver depends on.
"""

from __future__ import annotations

from skiff_common.apimachinery import convert, fields, kinds, labels, quantity, validation
from skiff_common.apimachinery.kinds import KindInfo

__all__ = ["KindInfo", "convert", "fields", "kinds", "labels", "quantity", "validation"]
