"""Containers: create (bundle + rootfs + executor), start, stop, remove, status, exec and stats."""
