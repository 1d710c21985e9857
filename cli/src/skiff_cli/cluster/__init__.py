"""A local Skiff cluster run as plain processes: what `skiff up` and `skiff down` manage."""
