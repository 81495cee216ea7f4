"""Typed records: a light stand-in for `dataclasses`, cheap enough for the start-up path.

    from krat.oci.records import field, record, replace

    @record(frozen=True)
    class Mount:
        destination: str
        options: tuple[str, ...] = ()
        extra: dict = field(default_factory=dict)

`record` reads the class's annotations and adds __init__, __repr__, __eq__ (and __hash__,
ordering, frozenness) with the semantics of the same `dataclass` options, so a module
moves over by changing its import. What it does not do, on purpose: evaluate annotations
(they stay strings), check for mutable defaults, InitVar/ClassVar/kw_only/slots.

Why not dataclasses: `import dataclasses` loads inspect, ast, dis, tokenize and re (~5 ms),
and every decorated class compiles its methods with exec (~0.1-0.3 ms per class); krat's
OCI and engine types are ~50 classes on the path of every `krat run`. Here the methods are
closures over the field names, so making a class costs microseconds.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # a type checker sees a dataclass-like decorator (PEP 681)
    from typing import Any, Callable, TypeVar, dataclass_transform

    T = TypeVar("T")
else:
    def dataclass_transform(**_kwargs):
        return lambda f: f

__all__ = ["MISSING", "Field", "FrozenInstanceError", "asdict", "field", "fields", "is_record", "record",
           "replace"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record."""


class Field:
    """One field: its name, annotation text, default or default factory, and what it takes part in."""

    __slots__ = ("name", "type", "default", "default_factory", "init", "repr", "hash", "compare")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
                 repr: bool = True, hash: bool | None = None, compare: bool = True) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.hash = hash
        self.compare = compare

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r})"


def field(*, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True, repr: bool = True,
          hash: bool | None = None, compare: bool = True) -> Any:
    """A field with a default factory or options, as dataclasses.field."""
    return Field(default, default_factory, init, repr, hash, compare)


_CLASSVAR = ("ClassVar", "typing.ClassVar")


def _collect(cls: type) -> tuple[Field, ...]:
    ns = cls.__dict__   # read once: each cls.__dict__ makes a new mappingproxy
    found: dict[str, Field] = {}
    for base in cls.__mro__[-1:0:-1]:
        for f in base.__dict__.get("__record_fields__", ()):
            found[f.name] = f
    for name, annotation in ns.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.startswith(_CLASSVAR):
            continue
        value = ns.get(name, MISSING)
        if isinstance(value, Field):
            f = value
            if f.default is MISSING:
                delattr(cls, name)  # as dataclasses: no class attribute for a factory or required field
            else:
                setattr(cls, name, f.default)
        else:
            f = Field(default=value)
        f.name, f.type = name, annotation
        found[name] = f
    fs = tuple(found.values())
    seen_default = False
    for f in fs:
        if not f.init:
            continue
        if f.default is not MISSING or f.default_factory is not MISSING:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__name__}: non-default field {f.name!r} follows a default field")
    return fs


def _make_init(cls: type, names: tuple[str, ...], defaults: dict[str, Any], factories: dict[str, Any],
               no_init: tuple[Field, ...]) -> Callable[..., None]:
    count = len(names)
    post_init = getattr(cls, "__post_init__", None) is not None
    qualname = cls.__qualname__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        given = len(args)
        if given > count:
            raise TypeError(f"{qualname}.__init__() takes {count + 1} positional arguments but {given + 1} were given")
        d = self.__dict__
        if given:
            d.update(zip(names, args))
        for name in names[given:]:
            if name in kwargs:
                d[name] = kwargs.pop(name)
            elif name in defaults:
                d[name] = defaults[name]
            elif name in factories:
                d[name] = factories[name]()
            else:
                raise TypeError(f"{qualname}.__init__() missing required argument: {name!r}")
        if kwargs:
            name = next(iter(kwargs))
            if name in names:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument {name!r}")
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {name!r}")
        for f in no_init:
            d[f.name] = defaults[f.name] if f.name in defaults else factories[f.name]()
        if post_init:
            self.__post_init__()

    return __init__


def _make_repr(cls: type, names: tuple[str, ...]) -> Callable[[Any], str]:
    qualname = cls.__qualname__

    def __repr__(self: Any) -> str:
        d = self.__dict__
        return f"{qualname}({', '.join(f'{name}={d[name]!r}' for name in names)})"

    return __repr__


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    def key(self: Any) -> tuple:
        d = self.__dict__
        return tuple([d[name] for name in names])

    return key


def _make_eq(cls: type, key: Callable[[Any], tuple]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return self is other or key(self) == key(other)
        return NotImplemented

    __eq__.__qualname__ = f"{cls.__qualname__}.__eq__"
    return __eq__


def _make_compare(cls: type, key: Callable[[Any], tuple], op: str) -> Callable[[Any, Any], Any]:
    if op == "eq":
        return _make_eq(cls, key)
    if op == "lt":
        def compare(self: Any, other: Any) -> Any:
            return key(self) < key(other) if other.__class__ is self.__class__ else NotImplemented
    elif op == "le":
        def compare(self: Any, other: Any) -> Any:
            return key(self) <= key(other) if other.__class__ is self.__class__ else NotImplemented
    elif op == "gt":
        def compare(self: Any, other: Any) -> Any:
            return key(self) > key(other) if other.__class__ is self.__class__ else NotImplemented
    else:
        def compare(self: Any, other: Any) -> Any:
            return key(self) >= key(other) if other.__class__ is self.__class__ else NotImplemented
    compare.__name__ = f"__{op}__"
    compare.__qualname__ = f"{cls.__qualname__}.__{op}__"
    return compare


def _make_frozen(cls: type, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__


def _process(cls: type, frozen: bool, eq: bool, order: bool, repr: bool, unsafe_hash: bool) -> type:
    # What each method needs, from one pass over the fields: ~50 classes are made on the way to
    # every container's start (the CLI's, and the runtime child's before "ready").
    fs = _collect(cls)
    ns = cls.__dict__
    init_names, repr_names, compared, hashed = [], [], [], []
    defaults: dict[str, Any] = {}
    factories: dict[str, Any] = {}
    for f in fs:
        name = f.name
        if f.init:
            init_names.append(name)
        if f.repr:
            repr_names.append(name)
        if f.compare:
            compared.append(name)
        if f.compare if f.hash is None else f.hash:
            hashed.append(name)
        if f.default is not MISSING:
            defaults[name] = f.default
        if f.default_factory is not MISSING:
            factories[name] = f.default_factory
    names = tuple(init_names)
    no_init = tuple(f for f in fs if not f.init and (f.name in defaults or f.name in factories)) \
        if len(names) < len(fs) else ()
    cls.__record_fields__ = fs  # type: ignore[attr-defined]
    cls.__record_frozen__ = frozen  # type: ignore[attr-defined]
    cls.__match_args__ = names  # type: ignore[attr-defined]
    if "__init__" not in ns:   # methods written in the class body win (as dataclasses)
        cls.__init__ = _make_init(cls, names, defaults, factories, no_init)  # type: ignore[misc]
    if repr and "__repr__" not in ns:
        cls.__repr__ = _make_repr(cls, tuple(repr_names))  # type: ignore[method-assign]
    key = _key(tuple(compared))
    # A class body that defines __eq__ gets __hash__ = None from Python: that is not an explicit hash.
    body_hash = ns.get("__hash__", MISSING)
    explicit_hash = body_hash is not MISSING and not (body_hash is None and "__eq__" in ns)
    if eq and "__eq__" not in ns:
        cls.__eq__ = _make_eq(cls, key)  # type: ignore[method-assign,assignment]
    if order:
        for op in ("lt", "le", "gt", "ge"):
            if f"__{op}__" in ns:
                raise TypeError(f"{cls.__name__}: order=True but the class defines __{op}__")
            setattr(cls, f"__{op}__", _make_compare(cls, key, op))
    if frozen:
        if "__setattr__" in ns or "__delattr__" in ns:
            raise TypeError(f"{cls.__name__}: a frozen record cannot define __setattr__ or __delattr__")
        setter, deleter = _make_frozen(cls, frozenset(f.name for f in fs))
        cls.__setattr__ = setter  # type: ignore[method-assign,assignment]
        cls.__delattr__ = deleter  # type: ignore[method-assign,assignment]
    if unsafe_hash or (eq and frozen and not explicit_hash):
        hashed_key = _key(tuple(hashed))
        cls.__hash__ = lambda self: hash(hashed_key(self))  # type: ignore[method-assign,assignment]
    elif eq and not frozen and not explicit_hash:
        cls.__hash__ = None  # type: ignore[assignment]
    return cls


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: Any = None, /, *, frozen: bool = False, eq: bool = True, order: bool = False, repr: bool = True,
           unsafe_hash: bool = False) -> Any:
    """Class decorator: `@record` or `@record(frozen=True, order=True)`, options as dataclass's."""
    def wrap(c: type) -> type:
        return _process(c, frozen, eq, order, repr, unsafe_hash)

    return wrap if cls is None else wrap(cls)


def is_record(obj: Any) -> bool:
    """True for a record class or instance."""
    return hasattr(obj if isinstance(obj, type) else type(obj), "__record_fields__")


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a record class or instance, in order."""
    try:
        return (obj if isinstance(obj, type) else type(obj)).__record_fields__
    except AttributeError:
        raise TypeError(f"{obj!r} is not a record") from None


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of a record with some fields changed (through __init__, so defaults and checks apply)."""
    cls = type(obj)
    fs = fields(obj)
    d = obj.__dict__
    for f in fs:
        if not f.init:
            if f.name in changes:
                raise ValueError(f"field {f.name!r} is not set in __init__: replace() cannot change it")
        elif f.name not in changes:
            changes[f.name] = d[f.name]
    return cls(**changes)


def asdict(obj: Any) -> dict[str, Any]:
    """A record as a dict, recursing into records, lists, tuples and dicts (other values are shared,
    not deep-copied as dataclasses.asdict does: records hold immutable values or plain JSON data)."""
    if not is_record(obj) or isinstance(obj, type):
        raise TypeError("asdict() should be called on record instances")
    return _asdict(obj)


def _asdict(value: Any) -> Any:
    fs = getattr(type(value), "__record_fields__", None)
    if fs is not None:
        d = value.__dict__
        return {f.name: _asdict(d[f.name]) for f in fs}
    kind = type(value)
    if kind is list or kind is tuple:
        return kind([_asdict(v) for v in value])
    if kind is dict:
        return {_asdict(k): _asdict(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return kind(*[_asdict(v) for v in value])
    if isinstance(value, (list, tuple)):
        return kind(_asdict(v) for v in value)
    if isinstance(value, dict):
        return kind((_asdict(k), _asdict(v)) for k, v in value.items())
    return value
