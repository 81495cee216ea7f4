"""krat.oci.records behaves as dataclasses does for the options krat uses, and stays cheap to import."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from krat.oci.records import FrozenInstanceError, asdict, field, fields, is_record, record, replace


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@record
class Box:
    name: str
    items: list = field(default_factory=list)
    meta: dict = field(default_factory=dict, repr=False)


@record(frozen=True, order=True)
class Version:
    major: int
    minor: int = 0


@dataclasses.dataclass(frozen=True)
class DPoint:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


def test_init_positional_keyword_and_defaults():
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, ())
    p = Point(1, tags=("a",), y=2)
    assert (p.x, p.y, p.tags) == (1, 2, ("a",))


def test_default_factories_make_a_new_value_per_instance():
    a, b = Box("a"), Box("b")
    a.items.append(1)
    assert b.items == [] and a.meta is not b.meta


@pytest.mark.parametrize("call, message", [
    (lambda: Point(), "missing required argument: 'x'"),
    (lambda: Point(1, 2, (), 4), "takes 4 positional arguments but 5 were given"),
    (lambda: Point(1, x=2), "multiple values for argument 'x'"),
    (lambda: Point(1, z=2), "unexpected keyword argument 'z'"),
])
def test_bad_arguments_raise_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_repr_eq_hash_match_dataclasses():
    p, d = Point(1, 2, ("a",)), DPoint(1, 2, ("a",))
    assert repr(p).replace("Point", "DPoint") == repr(d)
    assert p == Point(1, 2, ("a",)) and p != Point(1, 3) and p != d
    assert hash(p) == hash(d) == hash((1, 2, ("a",)))
    assert {p, Point(1, 2, ("a",))} == {p}
    assert repr(Box("b", [1])) == "Box(name='b', items=[1])"   # repr=False leaves meta out


def test_frozen_records_refuse_assignment_but_mutable_ones_do_not_hash():
    p = Point(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.y
    b = Box("b")
    b.name = "c"
    assert b.name == "c"
    with pytest.raises(TypeError):
        hash(b)


def test_order():
    assert sorted([Version(1, 2), Version(0, 9), Version(1)]) == [Version(0, 9), Version(1), Version(1, 2)]
    assert Version(1) <= Version(1) < Version(2) and Version(3) >= Version(2, 9) > Version(2)
    with pytest.raises(TypeError):
        Version(1) < (1, 0)  # noqa: B015


def test_class_attributes_keep_plain_defaults_only():
    assert Point.y == 0 and Point.tags == ()
    assert not hasattr(Box, "items")


def test_methods_written_in_the_class_body_win():
    @record(frozen=True)
    class Named:
        name: str

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __hash__(self) -> int:
            return 7

    assert repr(Named("n")) == "<n>" and hash(Named("n")) == 7


def test_post_init_runs_after_the_fields_are_set():
    @record
    class Doubled:
        n: int
        twice: int = 0

        def __post_init__(self) -> None:
            self.twice = 2 * self.n

    assert Doubled(3).twice == 6


def test_a_required_field_after_a_default_is_an_error():
    with pytest.raises(TypeError, match="non-default field 'b' follows a default field"):
        @record
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]


def test_replace_asdict_fields():
    p = Point(1, 2)
    q = replace(p, y=5)
    assert q == Point(1, 5) and p.y == 2 and type(q) is Point
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        replace(p, z=1)
    assert [f.name for f in fields(Point)] == ["x", "y", "tags"] == [f.name for f in fields(p)]
    assert fields(Box)[1].default_factory is list

    @record(frozen=True)
    class Outer:
        point: Point
        boxes: list
        by_name: dict
    nested = Outer(p, [Box("b", [Point(3)])], {"k": (Point(4),)})
    assert asdict(nested) == {"point": {"x": 1, "y": 2, "tags": ()},
                              "boxes": [{"name": "b", "items": [{"x": 3, "y": 0, "tags": ()}], "meta": {}}],
                              "by_name": {"k": ({"x": 4, "y": 0, "tags": ()},)}}
    assert asdict(p) == dataclasses.asdict(DPoint(1, 2))
    assert is_record(p) and is_record(Point) and not is_record(DPoint(1))
    with pytest.raises(TypeError):
        asdict(DPoint(1))


def test_inherited_fields_come_first():
    @record(frozen=True)
    class Base:
        a: int

    @record(frozen=True)
    class Child(Base):
        b: int = 1

    assert Child(0) == Child(0, 1) and repr(Child(0)) == "test_inherited_fields_come_first.<locals>.Child(a=0, b=1)"


def test_importing_it_loads_neither_dataclasses_nor_typing_nor_re():
    code = ("import sys, krat.oci.records; "
            "print(sorted({'dataclasses', 'typing', 're', 'inspect', 'enum'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": ":".join(p for p in sys.path if p)}).stdout
    assert out.strip() == "[]"
