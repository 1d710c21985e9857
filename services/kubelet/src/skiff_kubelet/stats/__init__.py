"""Resource statistics of the node and its pods: collected once, served as the Summary API and metrics.

`collector.StatsProvider` takes one snapshot (CRI ListContainerStats + the host's /proc + the pods'
cgroups) at most every few seconds, whoever asks; `summary`, `resource_metrics` and `http` only render it.
"""
