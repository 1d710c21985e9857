"""Sandbox and container stores: the runtime's memory, persisted as one JSON file per object."""
