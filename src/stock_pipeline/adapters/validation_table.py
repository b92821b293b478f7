"""The validation's entities of the single table (DESIGN §3): the arrival register, the run lock and cursor, the
validated levels, and the reads a run needs (ledger chunks, stored levels), all strongly consistent.

| entity              | PK                   | SK                                   |
|---------------------|----------------------|--------------------------------------|
| arrival register    | `ARRIVALS`           | `<registeredAt>#<key>#<etag>`        |
| arrival marker      | `FILE#<key>#<etag>`  | `ARRIVAL` (one registration per file) |
| run lock and cursor | `VALIDATION`         | `STATE`                              |
| run notice          | `VALIDATION`         | `RUN#<runId>`                        |
| validated level     | `VALID#WH#<wh>`      | `ITEM#<itemId>`                      |
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from stock_pipeline.adapters.stock_table import MAX_ROUNDS, SnapshotWriteError, condition_failed, plain_item, written_if
from stock_pipeline.domain.validation import ArrivedFile

ARRIVALS = "ARRIVALS"
STATE_KEY = {"PK": {"S": "VALIDATION"}, "SK": {"S": "STATE"}}
BATCH_KEYS = 100
BATCH_WRITES = 25

Item = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Claim:
    claimed: bool
    previous_cursor: str | None  # cutoff of the last completed run
    holder: str | None = None  # the run that holds the lock when this one could not take it
    holder_since: str | None = None


class ValidationTable:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    # ---------------------------------------------------------------- one run at a time

    def claim(self, run_id: str, *, now: str, lease_until: str, cutoff: str, trigger: str) -> Claim:
        """Take the lock unless another run holds it and its lease has not run out; the same run may take it
        again (a retried start)."""
        try:
            item = self._ddb.update_item(
                TableName=self.name,
                Key=STATE_KEY,
                UpdateExpression=(
                    "SET running = :run, leaseUntil = :lease, runCutoff = :cutoff, runTrigger = :trigger, "
                    "runStartedAt = if_not_exists(runStartedAt, :now), entity = :entity"
                ),
                ConditionExpression="attribute_not_exists(running) OR running = :run OR leaseUntil < :now",
                ExpressionAttributeValues={
                    ":run": {"S": run_id},
                    ":lease": {"S": lease_until},
                    ":cutoff": {"S": cutoff},
                    ":trigger": {"S": trigger},
                    ":now": {"S": now},
                    ":entity": {"S": "ValidationState"},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            state = self.state()
            return Claim(False, state.get("cursor"), state.get("running"), state.get("runStartedAt"))
        return Claim(True, plain_item(item).get("cursor"))

    def renew(self, run_id: str, *, lease_until: str) -> bool:
        """Extend the lease at every invocation; False when the lock went to another run (this one was presumed
        dead after its lease ran out)."""
        return written_if(
            self._ddb.update_item,
            TableName=self.name,
            Key=STATE_KEY,
            UpdateExpression="SET leaseUntil = :lease",
            ConditionExpression="running = :run",
            ExpressionAttributeValues={":run": {"S": run_id}, ":lease": {"S": lease_until}},
        )

    def complete(self, run_id: str, *, cutoff: str, finished_at: str) -> bool:
        """Advance the cursor and free the lock in one write; True also when a retry finds it done already."""
        try:
            self._ddb.update_item(
                TableName=self.name,
                Key=STATE_KEY,
                UpdateExpression=(
                    "SET #cursor = :cutoff, lastRun = :run, lastCompletedAt = :at "
                    "REMOVE running, leaseUntil, runCutoff, runTrigger, runStartedAt"
                ),
                ConditionExpression="running = :run",
                ExpressionAttributeNames={"#cursor": "cursor"},
                ExpressionAttributeValues={":run": {"S": run_id}, ":cutoff": {"S": cutoff}, ":at": {"S": finished_at}},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return self.state().get("lastRun") == run_id
            raise
        return True

    def release(self, run_id: str) -> None:
        """A failed run frees the lock and leaves the cursor: its files are checked again by the next run."""
        try:
            self._ddb.update_item(
                TableName=self.name,
                Key=STATE_KEY,
                UpdateExpression="REMOVE running, leaseUntil, runCutoff, runTrigger, runStartedAt",
                ConditionExpression="running = :run",
                ExpressionAttributeValues={":run": {"S": run_id}},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    def state(self) -> dict[str, Any]:
        item = self._ddb.get_item(TableName=self.name, Key=STATE_KEY, ConsistentRead=True).get("Item")
        return plain_item(item) if item else {}

    # ---------------------------------------------------------------- the arrival register

    def arrivals(self, start: str, end: str | None = None) -> list[tuple[ArrivedFile, str | None]]:
        """Files registered in [start, end) (end None: to now), each with the run that validated it, if any."""
        if end is None:
            condition, values = "PK = :pk AND SK >= :start", {":start": {"S": start}}
        else:  # an SK is "<registeredAt>#…", so "<end>" sorts before every SK registered at `end`
            condition, values = "PK = :pk AND SK BETWEEN :start AND :end", {":start": {"S": start}, ":end": {"S": end}}
        found = []
        for item in self._query(
            KeyConditionExpression=condition, ExpressionAttributeValues={":pk": {"S": ARRIVALS}, **values}
        ):
            arrived = ArrivedFile(
                item["key"], item["etag"], item.get("versionId"), item["eventTime"], item["registeredAt"]
            )
            found.append((arrived, item.get("validatedBy")))
        return found

    def movements(self, start: str, end: str | None = None) -> dict[tuple[str, str], int]:
        """What the console's adjustments and transfers applied in [start, end) (end None: to now), per level:
        the movement register (`MOVEMENTS` / `<at>#<id>`), written in each movement's own transaction."""
        if end is None:
            condition, values = "PK = :pk AND SK >= :start", {":start": {"S": start}}
        else:
            condition, values = "PK = :pk AND SK BETWEEN :start AND :end", {":start": {"S": start}, ":end": {"S": end}}
        deltas: dict[tuple[str, str], int] = {}
        for item in self._query(
            KeyConditionExpression=condition, ExpressionAttributeValues={":pk": {"S": "MOVEMENTS"}, **values}
        ):
            if end is not None and item["SK"] >= end:  # BETWEEN includes `end`; the window does not
                continue
            for warehouse, item_id, delta in json.loads(item["deltas"]):
                deltas[(warehouse, item_id)] = deltas.get((warehouse, item_id), 0) + int(delta)
        return deltas

    def mark_validated(self, files: Iterable[ArrivedFile], run_id: str) -> None:
        for f in files:
            self._ddb.update_item(
                TableName=self.name,
                Key={"PK": {"S": ARRIVALS}, "SK": {"S": arrival_sort_key(f)}},
                UpdateExpression="SET validatedBy = :run",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":run": {"S": run_id}},
            )

    # ---------------------------------------------------------------- what the checks read

    def ledger_chunks(self, key: str, etag: str) -> set[int]:
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :chunk)",
            ExpressionAttributeValues={":pk": {"S": f"FILE#{key}#{etag}"}, ":chunk": {"S": "CHUNK#"}},
            ProjectionExpression="SK",
        )
        return {int(item["SK"].split("#", 1)[1]) for item in items}

    def levels(self, items: Iterable[Item]) -> dict[Item, int | None]:
        """Stored warehouse levels (None: no level item)."""
        return self._quantities(items, lambda w, i: {"PK": {"S": f"WH#{w}"}, "SK": {"S": f"ITEM#{i}"}})

    def baselines(self, items: Iterable[Item], *, run_id: str | None = None) -> dict[Item, int | None]:
        """Levels as the last completed run validated them (None: never validated). An item `run_id` itself
        already rewrote (its finish retried after the function died) reads as the level that run started from."""
        return self._quantities(
            items, lambda w, i: {"PK": {"S": f"VALID#WH#{w}"}, "SK": {"S": f"ITEM#{i}"}}, run_id=run_id
        )

    def put_baselines(
        self, levels: Mapping[Item, int], *, run_id: str, validated_at: str, previous: Mapping[Item, int] | None = None
    ) -> None:
        """The new validated levels, each with the one it replaces (`previousQuantity`), so that writing them again
        for the same run is the same write."""
        previous = previous or {}
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "PK": {"S": f"VALID#WH#{w}"},
                        "SK": {"S": f"ITEM#{i}"},
                        "entity": {"S": "ValidatedLevel"},
                        "warehouse": {"S": w},
                        "itemId": {"S": i},
                        "quantity": {"N": str(quantity)},
                        "runId": {"S": run_id},
                        "validatedAt": {"S": validated_at},
                        **({"previousQuantity": {"N": str(previous[(w, i)])}} if (w, i) in previous else {}),
                    }
                }
            }
            for (w, i), quantity in sorted(levels.items())
        ]
        for start in range(0, len(requests), BATCH_WRITES):
            pending: dict[str, Any] = {self.name: requests[start : start + BATCH_WRITES]}
            for attempt in range(MAX_ROUNDS):
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                _back_off(attempt)
            else:
                raise SnapshotWriteError(f"{self.name}: validated levels still unprocessed")

    # ---------------------------------------------------------------- the completion e-mail, once

    def notified(self, run_id: str) -> bool:
        key = {"PK": {"S": "VALIDATION"}, "SK": {"S": f"RUN#{run_id}"}}
        return "Item" in self._ddb.get_item(TableName=self.name, Key=key, ConsistentRead=True)

    def record_notified(self, run_id: str, *, status: str, report_key: str, at: str, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self.name,
            Item={
                "PK": {"S": "VALIDATION"},
                "SK": {"S": f"RUN#{run_id}"},
                "entity": {"S": "ValidationRun"},
                "status": {"S": status},
                "reportKey": {"S": report_key},
                "notifiedAt": {"S": at},
                "ttl": {"N": str(expires_at)},
            },
        )

    # ---------------------------------------------------------------- helpers

    def _quantities(self, items: Iterable[Item], key_of: Any, *, run_id: str | None = None) -> dict[Item, int | None]:
        wanted = sorted(set(items))
        found: dict[Item, int | None] = dict.fromkeys(wanted)
        by_key = {(key_of(w, i)["PK"]["S"], key_of(w, i)["SK"]["S"]): (w, i) for w, i in wanted}
        for start in range(0, len(wanted), BATCH_KEYS):
            keys = [key_of(w, i) for w, i in wanted[start : start + BATCH_KEYS]]
            request: dict[str, Any] = {
                self.name: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "PK, SK, quantity, runId, previousQuantity",
                }
            }
            for attempt in range(MAX_ROUNDS):
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.name, []):
                    key = by_key[(item["PK"]["S"], item["SK"]["S"])]
                    if run_id is not None and item.get("runId", {}).get("S") == run_id:
                        before = item.get("previousQuantity", {}).get("N")
                        found[key] = None if before is None else int(before)
                    else:
                        found[key] = int(item.get("quantity", {}).get("N", "0"))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                _back_off(attempt)
            else:
                raise SnapshotWriteError(f"{self.name}: reads still unprocessed after {MAX_ROUNDS} rounds")
        return found

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._ddb.get_paginator("query").paginate(TableName=self.name, ConsistentRead=True, **kwargs):
            items.extend(plain_item(i) for i in page["Items"])
        return items


def arrival_sort_key(f: ArrivedFile) -> str:
    return f"{f.registered_at}#{f.key}#{f.etag}"


def _back_off(attempt: int) -> None:
    time.sleep(min(5.0, 0.05 * 2**attempt) * random.random())
