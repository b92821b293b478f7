"""`python -m stockctl smoke`: prove that a stack works end to end, the way its users use it, and leave nothing behind.

    python -m stockctl smoke --stack stock-pipeline [--console-user anna@example.com]   # a deployed stack
    python -m stockctl smoke --local                                                   # the stack of `make up`

Each step is timed and printed as OK or FAILED with the AWS error; the exit status is 1 if any failed:

- 100 KDG records through Firehose (a retailer named after the run, 20 articles updated five times each, sent out
  of order) -> the newest quantity of every article in DynamoDB and in the lake (curated/stock_latest/);
- an inventory file and a thresholds file for a warehouse named after the run -> its levels, a restock alert for
  the item the file leaves below the default threshold and one for the item the new threshold puts below
  (read from an SQS subscription to the restock topic, filtered to the run's warehouse);
- with --console-user: a file uploaded through the console's presigned POST, processed (the password is read from
  SMOKE_CONSOLE_PASSWORD or asked for; a user with two-factor sign-in cannot be used: skipped, saying so);
- the five reports over HTTP, signed with SigV4, and their values;
- the nightly validation started once (it must not fail; a run holding the lock ends as SKIPPED);
- every dead-letter queue empty, no alarm in ALARM;
- an alarm reaches people: one of the stack's alarms set to ALARM (SetAlarmState), CloudWatch's notification read
  from a queue subscribed to the KMS-encrypted operations topic, and the alarm set back (the operator needs
  cloudwatch:SetAlarmState on the stack's alarms). The topic's e-mail subscribers get that ALARM e-mail too, its
  reason naming the smoke run: the proof that alarms reach them;
- cleanup: its table items, uploaded files (every version), the warehouse's lake partition, lake files holding only
  its rows, the workflow file, the subscriptions and their queues. What stays: the change history (an audit trail,
  named after the run), raw Firehose objects (they may hold other data; expired by RawRetentionDays) and the
  validation run's record, report and run files (a real run of the nightly check, named <run>-validation).

The Firehose step waits for the stream's buffer interval (FirehoseBufferSeconds): the whole run takes under five
minutes when that is 240 seconds or less.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import json
import os
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from stockctl.console import PresignedPostRefusedError, call, post_form
from stockctl.smoke_operations import OperationsSteps, SmokeFailure
from stockctl.stack import ReportsClient, Target, topic_may_send

T = TypeVar("T")
HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


@dataclass
class Step:
    name: str
    seconds: float
    ok: bool
    detail: str


@dataclass
class Created:
    """What the run made, for the cleanup."""

    objects: list[tuple[str, str]] = field(default_factory=list)  # (key, version id) of uploads
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (key, ETag, body) of ingested uploads
    queue_url: str | None = None
    subscription: str | None = None
    operations_queue_url: str | None = None
    operations_subscription: str | None = None


class Smoke(OperationsSteps):
    def __init__(
        self,
        target: Target,
        *,
        run_id: str | None = None,
        console_user: str | None = None,
        console_password: str | None = None,
        wait_s: float = 180.0,
        poll_s: float = 2.0,
    ) -> None:
        self.target = target
        self.run = run_id or f"smoke-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        self.warehouse = f"{self.run} hall"
        self.items = {"a": f"{self.run}-a", "b": f"{self.run}-b", "c": f"{self.run}-c"}
        self.console_user, self.console_password = console_user, console_password
        self.wait_s, self.poll_s = wait_s, poll_s
        self.bucket = target.outputs["DataBucketName"]
        self.table = target.outputs["StockTableName"]
        self.s3, self.ddb = target.client("s3"), target.client("dynamodb")
        self.created = Created()
        self.articles: dict[tuple[int, int, int], int] = {}  # (account, article, channel) -> newest quantity
        self.steps: list[Step] = []
        self.threshold_default = 10

    # ------------------------------------------------------------------ running

    def run_all(self) -> list[Step]:
        checks: list[tuple[str, Callable[[], str]]] = [
            ("firehose: 100 KDG records sent", self.send_records),
            ("inventory and thresholds files uploaded", self.upload_files),
            ("levels in DynamoDB", self.levels_arrive),
            ("restock alerts e-mailed", self.alerts_arrive),
            ("console: presigned upload processed", self.console_upload),
            ("reports: five routes, SigV4", self.reports),
            ("firehose: newest stock in DynamoDB", self.articles_arrive),
            ("firehose: newest stock in the lake", self.articles_in_lake),
            ("validation run started", self.validation),
            ("dead-letter queues empty", self.dead_letters_empty),
            ("no alarm in ALARM", self.alarms_ok),
            ("an alarm reaches the operations topic", self.alarm_reaches_people),
        ]
        try:
            for name, check in checks:
                self._step(name, check)
        finally:
            self._step("cleanup: the run's data removed", self.cleanup)
        return self.steps

    def _step(self, name: str, check: Callable[[], str]) -> None:
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except SmokeFailure as exc:
            detail, ok = str(exc), False
        except ClientError as exc:
            error = exc.response.get("Error", {})
            detail, ok = f"{error.get('Code')}: {error.get('Message')}", False
        except (BotoCoreError, OSError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        self.steps.append(Step(name, time.monotonic() - started, ok, detail))

    def _until(self, what: str, check: Callable[[], T | None], timeout: float | None = None) -> T:
        deadline = time.monotonic() + (self.wait_s if timeout is None else timeout)
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise SmokeFailure(f"{what}: not seen after {self.wait_s if timeout is None else timeout:.0f} s")
            time.sleep(self.poll_s)

    # ------------------------------------------------------------------ Firehose

    def send_records(self) -> str:
        """20 articles of the run's retailer, five updates each, 1 ms apart, sent shuffled (newest wins)."""
        rng = random.Random(self.run)
        base = datetime.now(UTC).replace(microsecond=0)
        records = []
        for n in range(20):
            key = (n % 4, 100 + n, n % 3)
            for version in range(5):
                at = base + timedelta(milliseconds=n * 5 + version)
                quantity = 10 * n + version
                self.articles[key] = quantity  # the last version is the newest
                records.append(
                    {
                        "accountId": key[0],
                        "retailerId": self.run,
                        "channelId": key[2],
                        "productId": str(key[1]),
                        "articleId": key[1],
                        "articleNumber": key[1],
                        "lastUpdated": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
                        "quantity": quantity,
                    }
                )
        rng.shuffle(records)
        firehose = self.target.client("firehose")
        answer = firehose.put_record_batch(
            DeliveryStreamName=self.target.outputs["StockUpdatesStreamName"],
            Records=[{"Data": json.dumps(r).encode()} for r in records],
        )
        if answer.get("FailedPutCount"):
            raise SmokeFailure(f"Firehose refused {answer['FailedPutCount']} of {len(records)} records")
        return f"{len(records)} records, retailer {self.run}"

    def _stream_interval(self) -> float:
        firehose = self.target.client("firehose")
        stream = firehose.describe_delivery_stream(DeliveryStreamName=self.target.outputs["StockUpdatesStreamName"])
        for destination in stream["DeliveryStreamDescription"]["Destinations"]:
            hints = (destination.get("ExtendedS3DestinationDescription") or {}).get("BufferingHints") or {}
            if "IntervalInSeconds" in hints:
                return float(hints["IntervalInSeconds"])
        return 300.0

    def _article_keys(self) -> list[dict[str, Any]]:
        return [
            {"PK": {"S": f"RET#{self.run}#ACC#{account}"}, "SK": {"S": f"ART#{article}#CH#{channel}"}}
            for account, article, channel in self.articles
        ]

    def articles_arrive(self) -> str:
        wanted = {
            (k["PK"]["S"], k["SK"]["S"]): q for k, q in zip(self._article_keys(), self.articles.values(), strict=True)
        }

        def stored() -> bool:
            found = self.ddb.batch_get_item(
                RequestItems={self.table: {"Keys": self._article_keys(), "ConsistentRead": True}}
            )
            items = found["Responses"].get(self.table, [])
            have = {(i["PK"]["S"], i["SK"]["S"]): int(i["quantity"]["N"]) for i in items}
            return have == wanted

        self._until("the newest quantity of 20 articles", stored, self._stream_interval() + self.wait_s)
        return f"20 articles, each at its newest of 5 updates (buffer {self._stream_interval():.0f} s)"

    def articles_in_lake(self) -> str:
        import pyarrow.parquet as pq

        def lake() -> dict[tuple[int, int, int], int] | None:
            newest: dict[tuple[int, int, int], tuple[str, int]] = {}
            for key in self._lake_files("curated/stock_latest/"):
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                rows = pq.read_table(io.BytesIO(body)).to_pylist()
                for row in rows:
                    if row.get("retailer_id") == self.run:
                        k = (int(row["account_id"]), int(row["article_id"]), int(row["channel_id"]))
                        stamp = str(row["last_updated"])
                        if k not in newest or stamp > newest[k][0]:
                            newest[k] = (stamp, int(row["quantity"]))
            found = {k: q for k, (_, q) in newest.items()}
            return found if found == self.articles else None

        self._until("the run's articles in curated/stock_latest/", lake, self._stream_interval() + self.wait_s)
        return "every article's newest quantity in curated/stock_latest/"

    def _lake_files(self, prefix: str) -> list[str]:
        today = datetime.now(UTC).date()
        keys = []
        for day in (today - timedelta(days=1), today):
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{prefix}dt={day}/"
            ):
                keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    # ------------------------------------------------------------------ files, levels, alerts

    def _free_key(self, make: Callable[[int], str]) -> str:
        for n in range(1000):
            key = make(n)
            with contextlib.suppress(ClientError):
                self.s3.head_object(Bucket=self.bucket, Key=key)
                continue
            return key
        raise SmokeFailure("no free key for the run's upload")

    def _upload(self, key: str, body: bytes) -> str:
        answer = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.created.objects.append((key, answer.get("VersionId") or "null"))
        self.created.files.append((key, answer["ETag"].strip('"'), body))
        return answer["ETag"].strip('"')

    def upload_files(self) -> str:
        self._subscribe()
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = "".join(
            f"{stamp}\t{self.warehouse}\t{self.items[item]}\t{name}\t{change}\n"
            for item, name, change in (("a", "Smoke widget", 20), ("b", "Smoke gadget", 5))
        )
        inventory = self._free_key(
            lambda n: f"inventory_files/{now + timedelta(seconds=n):%Y/%m/%d/%Y%m%d%H%M%S}_inventory.csv"
        )
        self._upload(inventory, (HEADER + rows).encode())
        # thresholds files are one per day: a day long past that has none, so no user's file is replaced
        thresholds = self._free_key(
            lambda n: f"restock_thresholds/{date(2000, 1, 1) + timedelta(days=n):%Y/%m/%d}/restock_thresholds.json"
        )
        self._upload(
            thresholds, json.dumps({"ThresholdList": [{"ItemId": self.items["a"], "RestockIfBelow": 25}]}).encode()
        )
        return f"{inventory}, {thresholds}"

    def _levels(self) -> dict[str, int]:
        found = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :item)",
            ExpressionAttributeValues={":pk": {"S": f"WH#{self.warehouse}"}, ":item": {"S": "ITEM#"}},
            ConsistentRead=True,
        )["Items"]
        return {i["SK"]["S"][5:]: int(i["quantity"]["N"]) for i in found}

    def levels_arrive(self) -> str:
        wanted = {self.items["a"]: 20, self.items["b"]: 5}
        self._until(f"levels {wanted} of {self.warehouse}", lambda: self._levels() == wanted or None)
        return f"{self.warehouse}: a 20, b 5"

    def _subscribe(self) -> None:
        """A queue subscribed to the restock topic, receiving only this run's warehouse (filter policy)."""
        sqs, sns = self.target.client("sqs"), self.target.client("sns")
        url = sqs.create_queue(QueueName=f"{self.run}-alerts")["QueueUrl"]
        self.created.queue_url = url
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = self.target.outputs["RestockTopicArn"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(topic_may_send(arn, topic))})
        self.created.subscription = sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps({"warehouse": [self.warehouse]})},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def alerts_arrive(self) -> str:
        """b is 5, below the default threshold (an alert at ingestion); a is 20, below its new threshold of 25 (an
        alert from the re-evaluation workflow)."""
        sqs = self.target.client("sqs")
        seen: dict[str, str] = {}

        def both() -> bool:
            for message in sqs.receive_message(QueueUrl=self.created.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                body = json.loads(message["Body"])
                item = body.get("MessageAttributes", {}).get("itemId", {}).get("Value")
                seen[item] = body.get("Subject", "")
                sqs.delete_message(QueueUrl=self.created.queue_url, ReceiptHandle=message["ReceiptHandle"])
            return {self.items["a"], self.items["b"]} <= set(seen)

        self._until("restock alerts for a (below 25) and b (below the default)", both)
        if "20 left (below 25)" not in seen[self.items["a"]] or "5 left" not in seen[self.items["b"]]:
            raise SmokeFailure(f"unexpected alert subjects: {seen}")
        return f"{seen[self.items['b']]!r}; {seen[self.items['a']]!r}"

    # ------------------------------------------------------------------ console

    def console_upload(self) -> str:
        console = self.target.outputs.get("ConsoleUrl")
        if not self.console_user:
            return "skipped: no --console-user (a console user signs in with a password, not with AWS credentials)"
        status, answer = call(
            f"{console}/api/session", {"username": self.console_user, "password": self.console_password or ""}
        )
        if status != 200:
            raise SmokeFailure(f"sign-in: HTTP {status}: {answer.get('detail')}")
        if answer.get("challenge"):
            challenge = answer["challenge"]
            return f"skipped: {self.console_user} must answer {challenge} (use a user without two-factor sign-in)"
        token = answer["accessToken"]
        stamp = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        body = f"{HEADER}{stamp}\t{self.warehouse}\t{self.items['c']}\tSmoke console\t7\n".encode()
        status, target = call(
            f"{console}/api/uploads", {"kind": "inventory", "filename": f"{self.run}.tsv", "size": len(body)}, token
        )
        if status != 200:
            raise SmokeFailure(f"presign: HTTP {status}: {target.get('detail')}")
        try:
            post_form(target["url"], target["fields"], body)
        except PresignedPostRefusedError as exc:
            raise SmokeFailure(str(exc)) from exc
        head = self.s3.head_object(Bucket=self.bucket, Key=target["key"])
        self.created.objects.append((target["key"], head.get("VersionId") or "null"))
        self.created.files.append((target["key"], head["ETag"].strip('"'), body))

        def processed() -> str | None:
            status, files = call(f"{console}/api/files", None, token)
            row = (
                next((f for f in files.get("files", []) if f["key"] == target["key"]), None) if status == 200 else None
            )
            return row["status"] if row and row["status"] != "waiting" else None

        outcome = self._until(f"the console's file {target['key']}", processed)
        if outcome != "processed":
            raise SmokeFailure(f"{target['key']} ended {outcome}")
        self._until("level c from the console's file", lambda: self._levels().get(self.items["c"]) == 7 or None)
        return f"{target['key']} processed, c 7"

    # ------------------------------------------------------------------ reports

    def reports(self) -> str:
        client = ReportsClient(self.target.outputs["ReportsApiUrl"], self.target.session, self.target.region)
        wanted = {self.items["a"]: 20, self.items["b"]: 5}
        if any(s.name.startswith("console") and s.detail.endswith("c 7") for s in self.steps):
            wanted[self.items["c"]] = 7
        warehouse = quote(self.warehouse, safe="")

        def get(path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
            status, _, body = client.get(path, query or {})
            if status != 200:
                raise SmokeFailure(f"GET {path}: HTTP {status}: {body[:200].decode(errors='replace')}")
            return json.loads(body)

        names = {w["warehouse"] for w in _pages(get, "/warehouses")}
        if self.warehouse not in names:
            raise SmokeFailure(f"/warehouses does not list {self.warehouse}")
        levels = {r["item_id"]: r["quantity"] for r in _pages(get, f"/warehouses/{warehouse}/items")}
        above = {
            r["item_id"]: r["quantity"] for r in _pages(get, f"/warehouses/{warehouse}/items", {"min_quantity": 10})
        }
        total = get(f"/items/{quote(self.items['a'], safe='')}/total")
        account = next(iter(self.articles))[0]
        articles = {
            (r["article_id"], r["channel_id"]): r["quantity"]
            for r in _pages(get, f"/stock/{quote(self.run, safe='')}/{account}")
        }
        status, _, _ = client.get(f"/suppliers/{quote(self.run, safe='')}/stock", {})
        problems = []
        if levels != wanted:
            problems.append(f"items {levels} != {wanted}")
        if above != {self.items["a"]: 20}:
            problems.append(f"items above 10: {above}")
        if (total["total"], total["restock_if_below"], total["threshold_is_default"]) != (20, 25, False):
            problems.append(f"total of a: {total}")
        expected_articles = {(k[1], k[2]): q for k, q in self.articles.items() if k[0] == account}
        if articles and articles != expected_articles:
            problems.append(f"stock of account {account}: {articles}")
        if status not in (200, 404):
            problems.append(f"supplier stock of an unknown supplier: HTTP {status}")
        if problems:
            raise SmokeFailure("; ".join(problems))
        return (
            f"warehouses, items ({len(levels)}), above 10 (1), total of a (20 of 25), stock, supplier (HTTP {status})"
        )


def _pages(get: Callable[..., dict[str, Any]], path: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rows, token = [], None
    while True:
        page = get(path, {**(query or {}), **({"next": token} if token else {})})
        rows += page.get("items", [])
        token = page.get("next")
        if not token:
            return rows


def table(steps: list[Step]) -> str:
    width = max(len(s.name) for s in steps)
    lines = [f"{'step':<{width}}  seconds  result"]
    for s in steps:
        lines.append(f"{s.name:<{width}}  {s.seconds:7.1f}  {'OK' if s.ok else 'FAILED'}  {s.detail}")
    return "\n".join(lines)


def run(args: Any) -> int:
    import boto3

    if args.local:
        state = json.loads(open(args.local).read())  # noqa: SIM115
        session = boto3.session.Session(region_name=state["region"], **state["credentials"])
        user = state.get("consoleUser") or {}
        target = Target(session, state["outputs"], state["endpoint"], state["stackName"], state["region"])
        console_user, password = args.console_user or user.get("username"), user.get("password")
    else:
        session = boto3.session.Session(region_name=args.region)
        stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        target = Target(session, outputs, None, args.stack, session.region_name)
        console_user, password = args.console_user, None
    if console_user and password is None:
        password = os.environ.get("SMOKE_CONSOLE_PASSWORD") or getpass.getpass(f"console password of {console_user}: ")
    smoke = Smoke(target, console_user=console_user, console_password=password, wait_s=args.wait, poll_s=args.poll)
    print(f"smoke test {smoke.run} of {target.stack} ({target.region})", flush=True)
    steps = smoke.run_all()
    print(table(steps))
    return 0 if all(s.ok for s in steps) else 1
