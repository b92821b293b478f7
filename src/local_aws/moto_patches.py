"""Small corrections to moto for the local stack, each with its reason.

- TransactWriteItems: moto deep-copies the whole table (items and stream records) once per *action* to be able
  to roll back, i.e. up to 100 copies per transaction; a 100-action transaction on a table of a few thousand
  items then takes seconds. One copy per table per transaction gives the same rollback.
"""

from __future__ import annotations

import copy
import threading
import types
from typing import Any

_installed = False
_lock = threading.Lock()


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        copies: dict[int, Any] = {}

        def deepcopy(obj: Any, memo: Any = None) -> Any:
            if isinstance(obj, Table):
                if id(obj) not in copies:
                    copies[id(obj)] = copy.deepcopy(obj)
                return copies[id(obj)]
            return copy.deepcopy(obj, memo)

        with _lock:
            models.copy = types.SimpleNamespace(deepcopy=deepcopy)  # type: ignore[attr-defined]
            try:
                return original(self, transact_items)
            finally:
                models.copy = copy  # type: ignore[attr-defined]

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True
