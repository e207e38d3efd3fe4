"""One registry mechanism for models, datasets, prompt families and augmenters.

Entries are either objects or lazy ``"module:attribute"`` strings (imported on first use), so the
registry costs nothing at import time. Third-party packages add entries through the entry-point
group ``cabench.<kind>`` without forking cabench. Unknown names raise a :class:`UserError` with
"did you mean" suggestions.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from cabench.errors import UserError

T = TypeVar("T")


def import_object(spec: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def did_you_mean(name: str, choices: list[str]) -> str:
    """A short suggestion phrase for an unknown ``name`` among ``choices``."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "choose from " + ", ".join(sorted(choices)) if choices else "none are registered"


class Registry(Generic[T]):
    """Named entries of one kind (e.g. ``"model"``), extended by the entry-point group."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group or f"cabench.{kind}s"
        self._entries: dict[str, T | str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, obj: T | str | None = None) -> Callable[[T], T] | T | str:
        """Register ``obj`` (or a lazy ``"module:attr"`` string) under ``name``.

        Used bare it is a decorator: ``@registry.register("name")``.
        """
        if obj is None:

            def decorator(target: T) -> T:
                self._entries[name] = target
                return target

            return decorator
        self._entries[name] = obj
        return obj

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for entry in entry_points(group=self.entry_point_group):
            self._entries.setdefault(entry.name, entry.value)

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The entry called ``name``; unknown names raise a UserError with suggestions."""
        self._load_entry_points()
        if name not in self._entries:
            raise UserError(f"unknown {self.kind} {name!r}: {did_you_mean(name, self.names())}")
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = import_object(entry)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]
