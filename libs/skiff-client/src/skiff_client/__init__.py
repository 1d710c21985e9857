"""skiff_client."""
