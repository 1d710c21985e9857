"""Images: content-addressed blobs, image records, reference names, layer snapshots and rootfs mounts."""
