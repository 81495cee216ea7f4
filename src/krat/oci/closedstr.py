"""ClosedStr: a closed set of named str constants, for the statuses krat keeps.

Not enum.Enum: importing enum (with functools and collections) costs a `krat run` ~3 ms
and the runtime's child a third of its imports, and krat uses none of its machinery. A
subclass behaves as the `(str, Enum)` it replaces in what krat uses: members compared
with `is` and with their strings, `.value`, `.name`, `Cls("running")` returning the
member or raising ValueError, str() and repr(), and members() in the order given.

    class Colour(ClosedStr, values=("red", "green")):
        RED: Colour
        GREEN: Colour
"""

from __future__ import annotations


class ClosedStr(str):
    __slots__ = ()
    _members: dict[str, ClosedStr] = {}

    def __init_subclass__(cls, values: tuple[str, ...] = (), **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._members = {}
        for value in values:
            member = str.__new__(cls, value)
            cls._members[value] = member
            setattr(cls, value.upper(), member)

    def __new__(cls, value: str):
        try:
            return cls._members[value]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {cls.__name__}") from None

    @classmethod
    def members(cls) -> tuple:
        return tuple(cls._members.values())

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def name(self) -> str:
        return self.value.upper()

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.value!r}>"

    def __reduce__(self) -> tuple:
        return type(self), (self.value,)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo: dict):
        return self
