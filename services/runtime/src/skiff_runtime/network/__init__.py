"""Pod networking through CNI 1.0: the runtime executes the standard plugins, it implements none."""
