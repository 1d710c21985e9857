"""skiff_runtime."""
