"""Logged annotations and the call representation used in log lines."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from docket.annotations import Annotation, Logged, call_repr


async def the_task(
    a: Annotated[str, Logged],
    b: str,
    c: Annotated[str, Logged()] = "c",
    d: str = "d",
) -> None:
    """The spec's example task: a and c are logged, b and d are not."""


async def sized(
    mapping: Annotated[dict[str, int], Logged(length_only=True)],
    items: Annotated[set[int], Logged(length_only=True)],
    pair: Annotated[tuple[int, ...], Logged(length_only=True)],
    values: Annotated[list[int], Logged(length_only=True)],
    name: Annotated[str, Logged(length_only=True)],
    number: Annotated[int, Logged(length_only=True)],
) -> None:
    """Every length_only form."""


async def variadic(
    first: int, *rest: Annotated[int, Logged], **extra: Annotated[str, Logged]
) -> None:
    """Extra positionals and keywords follow the *rest and **extra markings."""


async def plain(x: int, *, y: int) -> None:
    """Nothing logged, and no *args or **kwargs."""


class Secret(Annotation):
    """Another annotation class, to check lookups are per class."""


async def mixed(a: Annotated[str, Secret, Logged], b: Annotated[str, Secret()]) -> None:
    """Parameters carrying several annotations."""


def test_spec_example() -> None:
    """Logged values are shown with repr(); unmarked ones as '...'."""
    text = call_repr(
        the_task, "the_task", ("value-a",), {"b": "x", "c": "value-c", "d": "y"}, "k1"
    )
    assert text == "the_task('value-a', b=..., c='value-c', d=...){k1}"


def test_positional_and_keyword_order_is_kept() -> None:
    """Positional arguments come first, keywords follow in call order."""
    text = call_repr(the_task, "alias", ("A", "B"), {"d": "D", "c": "C"}, "key")
    assert text == "alias('A', ..., d=..., c='C'){key}"
    assert call_repr(the_task, "t", (), {}, "k") == "t(){k}"


def test_length_only_forms() -> None:
    """{len N} for dicts and sets, (len N) for tuples, [len N] else, repr if no len."""
    args = ({"a": 1, "b": 2}, {1, 2, 3}, (1,), [1, 2, 3, 4], "hello", 42)
    text = call_repr(sized, "sized", args, {}, "k")
    assert text == "sized({len 2}, {len 3}, (len 1), [len 4], [len 5], 42){k}"
    assert Logged(length_only=True).format(frozenset({1})) == "{len 1}"


def test_variadic_parameters_carry_their_marking() -> None:
    """Values bound to *rest and **extra use those parameters' annotations."""
    text = call_repr(variadic, "variadic", (1, 2, 3), {"tag": "x"}, "k")
    assert text == "variadic(..., 2, 3, tag='x'){k}"


def test_arguments_without_parameters_are_hidden() -> None:
    """Surplus arguments of a function without *args/**kwargs are shown as '...'."""
    assert call_repr(plain, "plain", (1, 2), {"y": 3, "z": 4}, "k") == (
        "plain(..., ..., y=..., z=...){k}"
    )


def test_functions_without_signatures_show_only_dots() -> None:
    """A callable whose signature cannot be read never breaks the representation."""
    assert (
        call_repr(print, "print", ("x",), {"sep": ""}, "k") == "print(..., sep=...){k}"
    )  # pyright: ignore[reportArgumentType]


def test_annotated_parameters_finds_instances_per_class() -> None:
    """Bare classes count as default instances; other annotation classes are apart."""
    logged = Logged.annotated_parameters(the_task)
    assert logged == {"a": Logged(), "c": Logged()}
    assert all(isinstance(value, Logged) for value in logged.values())
    assert Logged.annotated_parameters(the_task) is logged
    assert set(Secret.annotated_parameters(mixed)) == {"a", "b"}
    assert set(Logged.annotated_parameters(mixed)) == {"a"}
    assert Logged.annotated_parameters(plain) == {}
    assert Annotation.cache_size() >= 3


def test_logged_equality_and_repr() -> None:
    """Logged instances compare by their options."""
    assert Logged() == Logged(length_only=False)
    assert Logged() != Logged(length_only=True)
    assert hash(Logged()) == hash(Logged())
    assert repr(Logged(True)) == "Logged(length_only=True)"


def test_unresolvable_string_annotations_are_tolerated() -> None:
    """Annotations that cannot be resolved fall back to no markings at all."""
    namespace: dict[str, Any] = {}
    exec("async def broken(x: 'Missing') -> None: ...", namespace)
    assert call_repr(namespace["broken"], "broken", (1,), {}, "k") == "broken(...){k}"


@pytest.mark.parametrize("value", [None, 3.5, object])
def test_logged_format_without_length(value: Any) -> None:
    """length_only falls back to repr() for values that have no length."""
    assert Logged(length_only=True).format(value) == repr(value)


def test_partly_resolvable_annotations_keep_their_markings() -> None:
    """One unresolvable annotation (a local class) does not hide the Logged ones."""

    class Local:
        pass

    async def task(a: Annotated[str, Logged], b: Local) -> None:
        """A task whose second annotation names a local class."""

    assert call_repr(task, "task", ("x", Local()), {}, "k") == "task('x', ...){k}"
