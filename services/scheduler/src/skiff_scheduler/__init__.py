"""skiff_scheduler."""
