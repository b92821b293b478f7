"""DynamoDB's idempotency token on TransactWriteItems, which moto ignores (it applies every request it gets).

As the API reference documents it (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html,
ClientRequestToken): a token is valid for 10 minutes after the first request that used it completed; the same
request again with it is answered without being applied ("multiple identical calls have the same effect as one
single call"), and a request with the same token and other parameters is refused with
IdempotentParameterMismatchException. After the 10 minutes the token is new again.

A token is remembered only once its request has completed: a transaction that was cancelled (a condition failed)
changed nothing, and its retry is judged again. botocore fills in a fresh token for every call that names none
(the member's idempotencyToken trait) and sends that one again on its own retries, which is what a caller should
rely on: a token built from what a delivery *is* (a key, a chunk) but sent with what it *carries* (its clock) is
a mismatch on the next delivery.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

WINDOW_SECONDS = 600.0

_lock = threading.Lock()
# (account, region, token) -> (fingerprint of the other parameters, monotonic time the request completed), oldest
# completion first: every transaction carries a token (botocore's), so the expired ones leave from the front
_tokens: OrderedDict[tuple[str, str, str], tuple[str, float]] = OrderedDict()
clock: Callable[[], float] = time.monotonic  # a test moves it past the window


def fingerprint(body: dict[str, Any]) -> str:
    """Every parameter of the request but the token, in a canonical form."""
    others = {k: v for k, v in body.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(others, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seen(account: str, region: str, token: str, body: dict[str, Any]) -> bool:
    """True when this token completed an identical request within the window (answer it, apply nothing);
    raises when it completed another request; False when the request is to be applied."""
    from moto.dynamodb.exceptions import DynamodbException

    now = clock()
    with _lock:
        while _tokens and now - next(iter(_tokens.values()))[1] > WINDOW_SECONDS:
            _tokens.popitem(last=False)
        known = _tokens.get((account, region, token))
    if known is None:
        return False
    if known[0] != fingerprint(body):
        raise DynamodbException(
            "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "Request parameters do not match the original request made with the same ClientRequestToken "
            f"(reused within {int(WINDOW_SECONDS / 60)} minutes with other parameters)",
        )
    return True


def completed(account: str, region: str, token: str, body: dict[str, Any]) -> None:
    with _lock:
        key = (account, region, token)
        _tokens[key] = (fingerprint(body), clock())
        _tokens.move_to_end(key)  # a token new again after its window completes now: it expires last


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.transact_write_items

    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        if seen(self.current_account, self.region, token, self.body):
            # the first request's changes stand; this one applies nothing (and consumes no write capacity)
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = original(self)
        completed(self.current_account, self.region, token, self.body)
        return result

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]
