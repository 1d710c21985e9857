"""The one place the apiserver imports API machinery from.

`skiff_common.apimachinery` (written by another helper) is the source of truth; until each of its modules
lands, the same names come from `skiff_apiserver._fallback`. Everything else in this package imports
`from skiff_apiserver.machinery import kinds, convert, labels, fields, validation` and never cares which.
"""

from __future__ import annotations

# ruff: noqa: F401
try:
    from skiff_common.apimachinery import kinds
except ImportError:  # pragma: no cover - depends on what has been merged
    from skiff_apiserver._fallback import kinds  # type: ignore[no-redef]
try:
    from skiff_common.apimachinery import convert
except ImportError:  # pragma: no cover
    from skiff_apiserver._fallback import convert  # type: ignore[no-redef]
try:
    from skiff_common.apimachinery import labels
except ImportError:  # pragma: no cover
    from skiff_apiserver._fallback import labels  # type: ignore[no-redef]
try:
    from skiff_common.apimachinery import fields
except ImportError:  # pragma: no cover
    from skiff_apiserver._fallback import fields  # type: ignore[no-redef]
try:
    from skiff_common.apimachinery import validation
except ImportError:  # pragma: no cover
    from skiff_apiserver._fallback import validation  # type: ignore[no-redef]

KindInfo = kinds.KindInfo
