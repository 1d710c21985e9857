"""skiff_common."""
