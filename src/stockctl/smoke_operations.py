"""The smoke run's operations steps (the validation started once, every dead-letter queue empty, no alarm in
ALARM) and its cleanup: the table items, objects, subscription and queue the run made (`stockctl smoke`).

A mixin of `Smoke`: it reads what the run recorded in `self.created` and the run's names (warehouse, items,
retailer), and leaves the change history, raw Firehose objects and the validation run's files (see smoke.py).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
DEAD_LETTER_OUTPUTS = (
    "IngestDeadLetterQueueUrl",
    "AlertFailureQueueUrl",
    "HistoryFailureQueueUrl",
    "NotificationDeadLetterQueueUrl",
    "ValidationScheduleDeadLetterQueueUrl",
    "ForecastScheduleDeadLetterQueueUrl",
)


class SmokeFailure(Exception):
    """A step's check did not hold: the message says what was expected and what was found."""


class OperationsSteps:
    created: Any
    target: Any
    ddb: Any
    s3: Any
    table: str
    bucket: str
    warehouse: str
    items: dict[str, str]
    run: str

    def _levels(self) -> dict[str, int]: ...

    def _article_keys(self) -> list[dict[str, Any]]: ...

    def _lake_files(self, prefix: str) -> list[str]: ...

    def _until(self, what: str, check: Callable[[], T | None], timeout: float | None = None) -> T: ...

    wait_s: float

    def validation(self) -> str:
        sfn = self.target.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.target.outputs["ValidationStateMachineArn"],
            name=f"{self.run}-validation",
            input=json.dumps({"trigger": "manual"}),
        )["executionArn"]

        def ended() -> dict[str, Any] | None:
            execution = sfn.describe_execution(executionArn=arn)
            return execution if execution["status"] != "RUNNING" else None

        try:
            execution = self._until("the validation run's end", ended, min(self.wait_s, 120.0))
        except SmokeFailure:
            return f"{arn}: still running after 120 s (started; it reports by e-mail)"
        if execution["status"] != "SUCCEEDED":
            raise SmokeFailure(f"{arn} ended {execution['status']}: {execution.get('cause') or execution.get('error')}")
        output = json.loads(execution.get("output") or "{}")
        return f"{output.get('status', 'SUCCEEDED')}: {output.get('problemCount', 0)} problem(s)"

    def dead_letters_empty(self) -> str:
        sqs = self.target.client("sqs")
        counts = {}
        for name in DEAD_LETTER_OUTPUTS:
            url = self.target.outputs.get(name)
            if not url:
                raise SmokeFailure(f"the stack has no output {name}")
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            counts[name.removesuffix("Url")] = sum(int(v) for v in attributes.values())
        waiting = {k: v for k, v in counts.items() if v}
        if waiting:
            raise SmokeFailure(f"messages waiting: {waiting}")
        return f"{len(counts)} queues, 0 messages"

    def alarms_ok(self) -> str:
        cloudwatch = self.target.client("cloudwatch")
        alarms = [
            a
            for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{self.target.stack}-")
            for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        ]
        firing = [a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM"]
        if not alarms:
            raise SmokeFailure(f"no alarms named {self.target.stack}-*")
        if firing:
            raise SmokeFailure(f"in ALARM: {', '.join(firing)}")
        return f"{len(alarms)} alarms, none in ALARM"

    def alarm_reaches_people(self) -> str:
        """CloudWatch -> the KMS-encrypted operations topic -> a subscriber, which no alarm exercises until something
        breaks: a key policy that does not let CloudWatch encrypt silences every alarm. One alarm of the stack is
        set to ALARM (SetAlarmState), its notification read from a queue subscribed to the topic, and the alarm set
        back; CloudWatch evaluates it again at its next period anyway."""
        from stockctl.stack import topic_may_send

        cloudwatch, sqs, sns = (self.target.client(s) for s in ("cloudwatch", "sqs", "sns"))
        topic = self.target.outputs["OperationsTopicArn"]
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{self.target.stack}-")
        alarm = next(
            (
                a
                for page in pages
                for a in page.get("MetricAlarms", [])
                if topic in a.get("AlarmActions", []) and a["StateValue"] != "ALARM"
            ),
            None,
        )
        if alarm is None:
            raise SmokeFailure(f"no alarm of {self.target.stack} notifies {topic} (or all are in ALARM)")
        url = sqs.create_queue(QueueName=f"{self.run}-operations")["QueueUrl"]
        self.created.operations_queue_url = url
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(topic_may_send(arn, topic))})
        self.created.operations_subscription = sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        name = alarm["AlarmName"]
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="ALARM", StateReason=f"stockctl smoke {self.run}: do alarms reach people?"
        )
        try:

            def notified() -> str | None:
                for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                    body = json.loads(message["Body"])
                    alarm_message = json.loads(body.get("Message") or "{}")
                    if alarm_message.get("AlarmName") == name and alarm_message.get("NewStateValue") == "ALARM":
                        return str(body.get("Subject"))
                return None

            subject = self._until(f"the notification of {name} on the operations topic", notified)
        finally:
            cloudwatch.set_alarm_state(
                AlarmName=name, StateValue=alarm["StateValue"], StateReason=f"stockctl smoke {self.run}: set back"
            )
        return f"{subject!r} arrived; {name} set back to {alarm['StateValue']}"

    def cleanup(self) -> str:
        removed = self._cleanup_table() + self._cleanup_bucket()
        sns, sqs = self.target.client("sns"), self.target.client("sqs")
        for subscription in (self.created.subscription, self.created.operations_subscription):
            if subscription:
                sns.unsubscribe(SubscriptionArn=subscription)
        for url in (self.created.queue_url, self.created.operations_queue_url):
            if url:
                sqs.delete_queue(QueueUrl=url)
        return f"{removed} items and objects removed; the change history keeps the run's rows"

    def _cleanup_table(self) -> int:
        from stock_pipeline.domain.objects import ObjectRef

        keys = [{"PK": {"S": "WAREHOUSES"}, "SK": {"S": f"WH#{self.warehouse}"}}]
        levels = self._levels()
        keys += [{"PK": {"S": f"WH#{self.warehouse}"}, "SK": {"S": f"ITEM#{item}"}} for item in levels]
        # each level's recent changes (the console's item page; they would expire after 31 days anyway)
        for item in levels:
            for page in self.ddb.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": f"CHG#{self.warehouse}#{item}"}},
                ProjectionExpression="PK, SK",
            ):
                keys += [{"PK": i["PK"], "SK": i["SK"]} for i in page["Items"]]
        # the levels the validation reconstructed for the warehouse (it would miss them in the next run)
        keys += [
            {"PK": {"S": f"VALID#WH#{self.warehouse}"}, "SK": {"S": f"ITEM#{item}"}} for item in self.items.values()
        ]
        keys += [{"PK": {"S": f"ITEM#{item}"}, "SK": {"S": "THRESHOLD"}} for item in self.items.values()]
        keys += self._article_keys()
        for key, etag, body in self.created.files:
            ledger = f"FILE#{key}#{etag}"
            entries = self.ddb.query(
                TableName=self.table,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": ledger}},
            )
            for item in entries["Items"]:
                keys.append({"PK": item["PK"], "SK": item["SK"]})
                if item["SK"]["S"] == "ARRIVAL":
                    keys.append({"PK": {"S": "ARRIVALS"}, "SK": {"S": f"{item['registeredAt']['S']}#{key}#{etag}"}})
            content = {"PK": {"S": f"CONTENT#{hashlib.sha256(body).hexdigest()}"}, "SK": {"S": "INVENTORY"}}
            claim = self.ddb.get_item(TableName=self.table, Key=content).get("Item")
            if claim and claim["key"]["S"] == key:
                keys.append(content)
            self.created.objects.append(
                (f"workflow/threshold-changes/{ObjectRef(self.bucket, key, etag).stem}.json", "")
            )
        for start in range(0, len(keys), 25):
            request = {self.table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
            while request:
                request = self.ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        return len(keys)

    def _cleanup_bucket(self) -> int:
        import pyarrow.parquet as pq

        doomed = [(key, version) for key, version in self.created.objects if version]
        for key, _ in [(k, v) for k, v in self.created.objects if not v]:  # every version of derived files
            doomed += self._versions(key)
        doomed += self._versions(f"curated/inventory_transactions/warehouse={self.warehouse}/", prefix=True)
        for key in self._lake_files("curated/stock_latest/"):
            table = pq.read_table(io.BytesIO(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()))
            if table.num_rows and set(table.column("retailer_id").to_pylist()) == {self.run}:
                doomed += self._versions(key)
        for start in range(0, len(doomed), 1000):
            objects = [
                {"Key": k, "VersionId": v} if v != "null" else {"Key": k} for k, v in doomed[start : start + 1000]
            ]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        return len(doomed)

    def _versions(self, key: str, *, prefix: bool = False) -> list[tuple[str, str]]:
        found = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if prefix or version["Key"] == key:
                    found.append((version["Key"], version["VersionId"]))
        return found
