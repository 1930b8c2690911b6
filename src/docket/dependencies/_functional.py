"""``Depends``: a task parameter whose value a function of the caller's provides.

The engine is uncalled-for's; this wrapper only keeps pydocket's parameter name,
so ``Depends(dependency=...)`` works as it does there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, TypeVar, cast, overload

from uncalled_for import DependencyFactory
from uncalled_for.functional import Depends as _engine_depends

R = TypeVar("R")


@overload
def Depends(
    dependency: Callable[..., AbstractAsyncContextManager[R]], **bindings: Any
) -> R: ...
@overload
def Depends(
    dependency: Callable[..., AbstractContextManager[R]], **bindings: Any
) -> R: ...
@overload
def Depends(dependency: Callable[..., Awaitable[R]], **bindings: Any) -> R: ...
@overload
def Depends(dependency: Callable[..., R], **bindings: Any) -> R: ...
def Depends(dependency: DependencyFactory[R], **bindings: Any) -> R:
    """Give the parameter the value of ``dependency`` (a function, coroutine
    function, or (async) context manager factory, resolved once per task run;
    a context manager is entered around the task). ``bindings`` supply the
    dependency's own parameters: a ``Dependency`` value (``CallArgument()``,
    another ``Depends(...)``) resolves first, any other value passes as it is."""
    return cast(R, _engine_depends(cast(Any, dependency), **bindings))


__all__ = ["Depends"]
