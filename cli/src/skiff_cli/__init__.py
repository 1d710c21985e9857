"""skiff_cli."""
