"""DaemonSet controller: one pod per eligible node, placed through the scheduler."""
