"""Turn a CRI ContainerConfig + image config + sandbox into an OCI runtime-spec config.json."""
