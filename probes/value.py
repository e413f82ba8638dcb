"""A base for the probes' small immutable value types: equality, hashing and a repr from
``__slots__``, what a ``NamedTuple`` or a frozen dataclass would give them.

``receipts run`` builds these types before its child starts, where importing :mod:`typing` (for
``NamedTuple``) costs about 5 ms on a small machine and :mod:`dataclasses` (which imports
:mod:`inspect`) about 20 ms: more than the rest of the wrapper's own work (see
``benchmarks/README.md``). A subclass lists its fields in ``__slots__`` and sets each exactly once
in ``__init__``.
"""

from __future__ import annotations


class Value:
    """Equal when of the same type with equal fields; hashable where every field is; fields
    cannot be set again or deleted once set."""

    __slots__ = ()

    def _fields(self) -> tuple[str, ...]:
        """Every field, the base classes' first, in ``__slots__`` order."""
        return tuple(
            name
            for cls in reversed(type(self).__mro__)
            for name in cls.__dict__.get("__slots__", ())
        )

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value) or type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields())
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"{type(self).__name__}.{name} is read-only")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__}.{name} is read-only")
