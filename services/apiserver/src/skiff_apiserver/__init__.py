"""skiff_apiserver."""
