"""API machinery shared by the apiserver, clients and the CLI.

Modules (import the one you need; this package imports nothing eagerly):

* ``kinds``       the registry of kinds: names, scope, message class, Any packing.
* ``convert``     Kubernetes JSON/YAML <-> protobuf, strict, with field paths; manifests; kubectl output.
* ``quantity``    resource quantities ("250m", "1Gi"): parse, canonical form, milli/int values.
* ``labels``      label selectors: parse, match, from LabelSelector protos.
* ``fields``      field selectors and the selectable fields of each kind.
* ``validation``  validation primitives returning FieldErrors (names, labels, annotations, metadata).
* ``intstr``      IntOrString helpers (maxSurge "25%" of 10 -> 3).
"""
