"""Private stand-ins for parts of `skiff_common.apimachinery` that had not landed when this package was
written. `skiff_apiserver.machinery` prefers the real modules and only falls back to these; each one keeps
the same names and signatures as SPEC-APIMACHINERY so the switch is invisible to callers."""
