"""What a run left behind (a `Snapshot` read with the stack's own administrator client) and the invariants that
compare a faulted run with the clean one, each held or violated with examples."""

from __future__ import annotations

import io
import itertools
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from local_aws.chaos.workload import Run
from local_aws.stack import LocalStack
from stock_pipeline.domain.objects import ObjectRef

DEAD_LETTER_OUTPUTS = (
    "IngestDeadLetterQueueUrl",
    "HistoryFailureQueueUrl",
    "AlertFailureQueueUrl",
    "NotificationDeadLetterQueueUrl",
    "ValidationScheduleDeadLetterQueueUrl",
)
EBAY_VOLATILE = {"run_id", "updated_at", "changed_at"}  # which run wrote a row and when: not what eBay is told


@dataclass
class Snapshot:
    latest: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    levels: dict[tuple[str, str], int] = field(default_factory=dict)
    thresholds: dict[str, int] = field(default_factory=dict)
    supplier: dict[tuple[str, str], int] = field(default_factory=dict)
    outcomes: dict[str, str | None] = field(default_factory=dict)  # input key -> status of its (key, ETag)
    firehose_objects: dict[str, str | None] = field(default_factory=dict)  # raw key -> outcome
    alerts: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # crossing -> e-mails
    notices: Counter[str] = field(default_factory=Counter)  # subject -> feed status e-mails
    history: list[dict[str, Any]] = field(default_factory=list)
    lake_latest: dict[tuple[str, int, int, int], tuple[int, str]] = field(default_factory=dict)
    ebay: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    revise: dict[str, str] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    parked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # left in a queue at the end
    redriven: list[dict[str, Any]] = field(default_factory=list)  # parked objects moved back, with their reasons


def snapshot(stack: LocalStack, run: Run) -> Snapshot:
    out = stack.outputs
    bucket, table = out["DataBucketName"], out["StockTableName"]
    s3, ddb = stack.client("s3"), stack.client("dynamodb")
    shot = Snapshot(validation=run.validation)
    ledger: dict[str, str] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            pk, sk = item["PK"]["S"], item["SK"]["S"]
            if pk.startswith("RET#"):
                shot.latest[(pk, sk)] = (int(item["quantity"]["N"]), item["lastUpdated"]["S"])
            elif pk.startswith("WH#"):
                shot.levels[(pk[3:], sk.removeprefix("ITEM#"))] = int(item["quantity"]["N"])
            elif sk == "THRESHOLD":
                shot.thresholds[pk.removeprefix("ITEM#")] = int(item["restockIfBelow"]["N"])
            elif pk.startswith("SUP#"):
                shot.supplier[(pk, sk)] = int(item["quantity"]["N"])
            elif pk.startswith("FILE#") and sk == "OUTCOME":
                ledger[pk] = item["status"]["S"]
    shot.outcomes = {
        key: ledger.get(f"FILE#{key}#{etag}") for key, etag in run.uploads.items() if not key.startswith("raw/")
    }
    # a Firehose object's outcome is its lake file, named after the object (key and ETag)
    lake_files = {k.rsplit("/", 1)[-1].split(".", 1)[0] for k in _objects(s3, bucket, "curated/stock_latest/")}
    for key, etag in _objects(s3, bucket, "raw/stock-updates/").items():
        stem = ObjectRef(bucket, key, etag).stem
        shot.firehose_objects[key] = "PROCESSED" if stem in lake_files else None
    for email in run.inboxes["restock"].read():
        threshold = re.search(r"below (\d+)", email["subject"] or "")
        crossing = (email["attributes"].get("warehouse"), email["attributes"].get("itemId"))
        shot.alerts[(*crossing, int(threshold.group(1)) if threshold else -1)] += 1  # type: ignore[arg-type]
    for email in run.inboxes["feeds"].read():
        shot.notices[email["subject"] or ""] += 1
    shot.history = _parquet_rows(s3, bucket, "curated/stock_history/")
    for row in _parquet_rows(s3, bucket, "curated/stock_latest/"):
        key = (row["retailer_id"], row["account_id"], row["article_id"], row["channel_id"])
        moment = str(row["last_updated"])
        if key not in shot.lake_latest or shot.lake_latest[key][1] < moment:
            shot.lake_latest[key] = (row["quantity"], moment)
    for key in _objects(s3, bucket, "curated/ebay/"):
        rows = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).to_pylist()
        shot.ebay[key] = sorted(
            (tuple(sorted((k, v) for k, v in r.items() if k not in EBAY_VOLATILE)) for r in rows), key=repr
        )
    for key in _objects(s3, bucket, "exports/ebay/"):
        store, *_, name = key.removeprefix("exports/ebay/").split("/")
        shot.revise[f"{store}/{name}"] = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    sqs = stack.client("sqs")
    for name in DEAD_LETTER_OUTPUTS:
        if name in out:
            shot.parked[name] = _peek(sqs, out[name])
    return shot


def _objects(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = obj["ETag"].strip('"')
    return found


def _parquet_rows(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    tables = [
        pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        for key in _objects(s3, bucket, prefix)
        if key.endswith(".parquet")
    ]
    return pa.concat_tables(tables, promote_options="permissive").to_pylist() if tables else []


def _peek(sqs: Any, url: str) -> list[dict[str, Any]]:
    """The parked messages, left in the queue (visible again at once)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            break
        messages += batch
    for message in messages:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return [{"body": m["Body"], "attributes": m.get("MessageAttributes", {})} for m in messages]


# ---------------------------------------------------------------------------------------------- invariants


@dataclass
class Verdict:
    name: str
    held: bool
    detail: str
    examples: list[str] = field(default_factory=list)


def _differences(clean: dict[Any, Any], faulted: dict[Any, Any], limit: int = 5) -> list[str]:
    keys = sorted(set(clean) | set(faulted), key=str)
    return [
        f"{key}: clean {_short(clean.get(key, 'absent'))}, faulted {_short(faulted.get(key, 'absent'))}"
        for key in keys
        if clean.get(key) != faulted.get(key)
    ][:limit]


def _short(value: Any, width: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _same(name: str, what: str, clean: dict[Any, Any], faulted: dict[Any, Any]) -> Verdict:
    examples = _differences(clean, faulted)
    return Verdict(name, not examples, f"{len(faulted)} {what} compared" if not examples else "differ", examples)


def compare(clean: Snapshot, faulted: Snapshot) -> list[Verdict]:
    verdicts = [
        _same("latest stock per article identical", "article keys", clean.latest, faulted.latest),
        _same("every warehouse level identical", "levels", clean.levels, faulted.levels),
        _same("thresholds and supplier stock identical", "items", _rest(clean), _rest(faulted)),
        _alerts(clean, faulted),
        _outcomes(clean, faulted),
        _history(clean, faulted),
        _lake(faulted),
        _same("eBay tables identical", "store x supplier tables", clean.ebay, faulted.ebay),
        _same("revise files identical", "revise files", clean.revise, faulted.revise),
        _validation(faulted),
        _parked(faulted),
    ]
    return verdicts


def _rest(shot: Snapshot) -> dict[Any, Any]:
    return {**{("threshold", k): v for k, v in shot.thresholds.items()}, **shot.supplier}


def _alerts(clean: Snapshot, faulted: Snapshot) -> Verdict:
    """The same crossings e-mailed; a crossing e-mailed twice is counted (publish-then-record can repeat one)."""
    lost = sorted(set(clean.alerts) - set(faulted.alerts))
    extra = sorted(set(faulted.alerts) - set(clean.alerts))
    examples = [f"not e-mailed: {c}" for c in lost[:5]] + [f"not a crossing of the clean run: {c}" for c in extra[:5]]
    duplicates = sum(n - 1 for n in faulted.alerts.values() if n > 1)
    detail = f"{len(faulted.alerts)} crossings, {sum(faulted.alerts.values())} e-mails, {duplicates} duplicate(s)"
    return Verdict("alerts: the same crossings, each e-mailed", not lost and not extra, detail, examples)


def duplicate_emails(shot: Snapshot) -> tuple[int, int]:
    """(duplicate e-mails, e-mails) of restock alerts and feed notices."""
    counts = [*shot.alerts.values(), *shot.notices.values()]
    return sum(n - 1 for n in counts if n > 1), sum(counts)


def _outcomes(clean: Snapshot, faulted: Snapshot) -> Verdict:
    missing = [k for k, status in {**faulted.outcomes, **faulted.firehose_objects}.items() if status is None]
    if len(clean.firehose_objects) != len(faulted.firehose_objects):
        missing.append(f"{len(faulted.firehose_objects)} Firehose objects, clean run {len(clean.firehose_objects)}")
    examples = [f"no outcome: {k}" for k in missing[:5]] + _differences(clean.outcomes, faulted.outcomes)
    notices = [f"notice e-mailed {n} times: {s}" for s, n in faulted.notices.items() if n > 1]
    lost = [f"notice not e-mailed: {s}" for s in set(clean.notices) - set(faulted.notices)]
    examples += lost[:5]
    held = not missing and not _differences(clean.outcomes, faulted.outcomes) and not lost
    files = len(faulted.outcomes) + len(faulted.firehose_objects)
    detail = f"{files} files, {sum(faulted.notices.values())} notices ({len(notices)} repeated)"
    return Verdict("every file exactly one outcome", held, detail, examples)


def _history(clean: Snapshot, faulted: Snapshot) -> Verdict:
    """Per key, its changes in stream order chain (each old value is the previous new value) and end at the stored
    value, no sequence number twice; a level's changes are the clean run's (each file's delta once)."""
    examples: list[str] = []
    chains: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    seen: Counter[tuple[Any, ...]] = Counter()
    for row in faulted.history:
        key = _history_key(row)
        chains[key].append(row)
        seen[(*key, row["sequence"])] += 1
    examples += [f"change written {n} times: {k}" for k, n in seen.items() if n > 1][:5]
    stored = {("level", *k): v for k, v in faulted.levels.items()}
    stored.update({("article", *k): v[0] for k, v in faulted.latest.items()})
    for key, rows in chains.items():
        rows.sort(key=lambda r: r["sequence"])
        for before, after in itertools.pairwise(rows):
            if before["new_value"] != after["old_value"]:
                examples.append(f"gap in {key}: {before['new_value']} then {after['old_value']}")
                break
        if key in stored and rows[-1]["new_value"] != stored[key]:
            examples.append(f"{key} ends at {rows[-1]['new_value']}, stored {stored[key]}")
    missing = [k for k in stored if k not in chains and k[0] == "level"]
    examples += [f"no history for {k}" for k in missing[:5]]
    deltas = _level_deltas(clean), _level_deltas(faulted)
    examples += _differences(*deltas)
    return Verdict(
        "history: each change once, no gap",
        not examples,
        f"{len(faulted.history)} changes of {len(chains)} keys",
        examples[:8],
    )


def _history_key(row: dict[str, Any]) -> tuple[Any, ...]:
    if row["entity"] == "warehouse_level":
        return ("level", row["warehouse"], row["item_id"])
    if row["entity"] == "article_stock":
        return (
            "article",
            f"RET#{row['retailer_id']}#ACC#{row['account_id']}",
            f"ART#{row['article_id']}#CH#{row['channel_id']}",
        )
    return (row["entity"], row["supplier"] or row["item_id"], row["sku"])


def _level_deltas(shot: Snapshot) -> dict[tuple[str, str], list[int]]:
    deltas: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in shot.history:
        if row["entity"] == "warehouse_level":
            deltas[(row["warehouse"], row["item_id"])].append(row["delta"])
    return {k: sorted(v) for k, v in deltas.items()}


def _lake(faulted: Snapshot) -> Verdict:
    lake = {(f"RET#{r}#ACC#{a}", f"ART#{art}#CH#{ch}"): q for (r, a, art, ch), (q, _) in faulted.lake_latest.items()}
    table = {k: v[0] for k, v in faulted.latest.items()}
    examples = _differences(table, lake)
    return Verdict("lake rows = stored keys", not examples, f"{len(lake)} article keys in the lake", examples)


def _validation(faulted: Snapshot) -> Verdict:
    v = faulted.validation
    held = v.get("status") == "SUCCEEDED" and v.get("differences") == 0
    detail = f"{v.get('status')}, {v.get('files', '?')} files, {v.get('differences', '?')} differences"
    return Verdict("the validation reports 0 differences", held, detail, [] if held else [json.dumps(v)[:300]])


def _parked(faulted: Snapshot) -> Verdict:
    """Anything parked said why, and ends like the rest once redriven (the other invariants are read after it)."""
    parked = {name: messages for name, messages in faulted.parked.items() if messages}
    examples = [f"left in {name}: {m['body'][:200]}" for name, messages in parked.items() for m in messages[:2]]
    examples += [f"parked without a reason: {p['key']}" for p in faulted.redriven if not p["reason"]]
    count = sum(len(m) for m in parked.values())
    detail = f"{len(faulted.redriven)} parked and redriven, {count} left"
    return Verdict("anything parked says why and, redriven, ends identical", not examples, detail, examples[:5])
