"""skiff_controllers."""
