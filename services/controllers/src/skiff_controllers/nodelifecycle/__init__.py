"""Node lifecycle: node health from heartbeats, condition taints, and NoExecute taint eviction."""
