"""Plugin factories by name; registering a name twice is a programming error."""

from __future__ import annotations

from skiff_scheduler.framework.interfaces import PluginFactory


class Registry:
    def __init__(self) -> None:
        self._factories: dict[str, PluginFactory] = {}

    def register(self, name: str, factory: PluginFactory) -> None:
        if name in self._factories:
            raise ValueError(f"plugin {name!r} is already registered")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return list(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def factory(self, name: str) -> PluginFactory:
        return self._factories[name]
