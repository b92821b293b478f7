"""The AWS SDK for pandas layer on the local stack: a function that does not carry it cannot import what it
provides (pyarrow, pandas, numpy, awswrangler), as in Lambda, where its package holds none of them.

Locally every function runs in this process, where those libraries are installed and often imported already by
another function; so a function without the layer could import them and pass every test, then fail in AWS with
"No module named 'pyarrow'" on the first request that takes a lazy path to them. While such a function's handler
runs (its module's import included), an import of one of them raises that error here too. The calls into the
local AWS (moto) are not the function's and are left alone.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LAYER_MODULES = frozenset({"pyarrow", "pandas", "numpy", "awswrangler"})
_state = threading.local()
_original_import = builtins.__import__


def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    if level == 0 and getattr(_state, "without", False) and name.partition(".")[0] in LAYER_MODULES:
        raise ModuleNotFoundError(
            f"No module named '{name.partition('.')[0]}' (this function carries no AWS SDK for pandas layer)",
            name=name.partition(".")[0],
        )
    return _original_import(name, globals, locals, fromlist, level)


def install() -> None:
    builtins.__import__ = _import


@contextmanager
def without_pandas_layer(active: bool = True) -> Iterator[None]:
    """Around a handler of a function that does not carry the layer (`active` False: no change)."""
    previous = getattr(_state, "without", False)
    _state.without = active or previous
    try:
        yield
    finally:
        _state.without = previous


@contextmanager
def local_aws_call() -> Iterator[None]:
    """Around a call into the local AWS: moto's code, not the function's."""
    previous = getattr(_state, "without", False)
    _state.without = False
    try:
        yield
    finally:
        _state.without = previous
