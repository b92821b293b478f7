"""The full reconciliation's AWS side: the table's export to S3, the export's partition in the Glue catalog, Athena
queries in the stack's workgroup, the runs' summaries in the table, and the repair's conditional write."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from stock_pipeline.adapters.movements import new_level
from stock_pipeline.adapters.stock_table import plain_item
from stock_pipeline.domain.reconciliation import EXPORT_TABLE, Difference, RunSummary, export_prefix

RUNS = "RECONCILIATION"  # the runs' summaries: RECONCILIATION / RUN#<run>, newest last
QUERY_POLL_S = 1.0


class QueryError(RuntimeError):
    """An Athena query that did not succeed, with Athena's reason."""


class TableExports:
    def __init__(self, dynamodb_client: Any, table_arn: str, bucket: str) -> None:
        self._ddb, self.table_arn, self.bucket = dynamodb_client, table_arn, bucket

    def start(self, run: str) -> str:
        """A full export of the table as it is now (point-in-time recovery must be on), into the run's prefix."""
        answer = self._ddb.export_table_to_point_in_time(
            TableArn=self.table_arn,
            S3Bucket=self.bucket,
            S3Prefix=export_prefix(run),
            ExportFormat="DYNAMODB_JSON",
            ExportType="FULL_EXPORT",
            ClientToken=run,  # a retried start is the same export (valid for 8 hours)
        )
        return str(answer["ExportDescription"]["ExportArn"])

    def status(self, export_arn: str) -> tuple[str, int, str]:
        """(IN_PROGRESS | COMPLETED | FAILED, items, failure message)."""
        found = self._ddb.describe_export(ExportArn=export_arn)["ExportDescription"]
        return str(found["ExportStatus"]), int(found.get("ItemCount") or 0), str(found.get("FailureMessage") or "")

    def data_location(self, run: str, export_arn: str) -> str:
        """Where the export's items are: <prefix>/AWSDynamoDB/<export id>/data/ (the manifests are beside it)."""
        return f"s3://{self.bucket}/{export_prefix(run)}/AWSDynamoDB/{export_arn.rsplit('/', 1)[-1]}/data/"


class Catalog:
    def __init__(self, glue_client: Any, database: str) -> None:
        self._glue, self.database = glue_client, database

    def add_export(self, run: str, location: str) -> None:
        """The export as the run's partition of stock_table_export (again for the same run: already there)."""
        table = self._glue.get_table(DatabaseName=self.database, Name=EXPORT_TABLE)["Table"]
        descriptor = {**table["StorageDescriptor"], "Location": location}
        try:
            self._glue.create_partition(
                DatabaseName=self.database,
                TableName=EXPORT_TABLE,
                PartitionInput={"Values": [run], "StorageDescriptor": descriptor},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                raise


class Queries:
    """Athena in the stack's workgroup (its output location, encryption and bytes-scanned limit apply)."""

    def __init__(self, athena_client: Any, workgroup: str, database: str, *, poll_s: float = QUERY_POLL_S) -> None:
        self._athena, self.workgroup, self.database, self.poll_s = athena_client, workgroup, database, poll_s
        self.scanned_bytes = 0

    def run(self, sql: str, *, token: str | None = None, timeout_s: float = 600) -> list[dict[str, Any]]:
        """The rows of a query (every value as Athena's text, NULL as None); [] for an UNLOAD. With a `token`, a
        task retried (a Lambda timeout while the query ran) gets the same execution back and waits for it."""
        execution = self._athena.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
            **({"ClientRequestToken": token} if token else {}),
        )["QueryExecutionId"]
        deadline = time.monotonic() + timeout_s
        while True:
            found = self._athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]
            state = found["Status"]["State"]
            if state == "SUCCEEDED":
                self.scanned_bytes += int((found.get("Statistics") or {}).get("DataScannedInBytes") or 0)
                break
            if state in ("FAILED", "CANCELLED"):
                raise QueryError(f"Athena query {state}: {found['Status'].get('StateChangeReason', '')}")
            if time.monotonic() > deadline:
                raise QueryError(f"Athena query {execution} still {state} after {timeout_s:.0f} s")
            time.sleep(self.poll_s)
        return list(self._rows(execution)) if not sql.lstrip().upper().startswith("UNLOAD") else []

    def _rows(self, execution: str) -> Iterator[dict[str, Any]]:
        names: list[str] | None = None
        for page in self._athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution):
            for row in page["ResultSet"]["Rows"]:
                values = [cell.get("VarCharValue") for cell in row.get("Data", [])]
                if names is None:
                    names = [str(v) for v in values]  # the header row
                    continue
                yield dict(zip(names, values, strict=False))


class Runs:
    """Each run's summary in the table, for the console and the repair (`RECONCILIATION` / `RUN#<run>`)."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb, self.name = dynamodb_client, table_name

    def record(self, summary: RunSummary, *, at: str, export_arn: str, items: int) -> None:
        worst = [
            {"warehouse": d.warehouse, "item_id": d.item_id, "expected": d.expected, "stored": d.stored}
            for d in summary.worst
        ]
        self._ddb.put_item(
            TableName=self.name,
            Item={
                "PK": {"S": RUNS},
                "SK": {"S": f"RUN#{summary.run}"},
                "entity": {"S": "ReconciliationRun"},
                "run": {"S": summary.run},
                "at": {"S": at},
                "exportArn": {"S": export_arn},
                "exportedItems": {"N": str(items)},
                "differences": {"N": str(summary.differences)},
                "totalUnits": {"N": str(summary.total_units)},
                "missingLevels": {"N": str(summary.missing_levels)},
                "worst": {"S": json.dumps(worst, ensure_ascii=False)},  # at most WORST rows: well under 400 KB
            },
        )

    def latest(self) -> dict[str, Any] | None:
        found = self._ddb.query(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :run)",
            ExpressionAttributeValues={":pk": {"S": RUNS}, ":run": {"S": "RUN#"}},
            ScanIndexForward=False,
            Limit=1,
        ).get("Items", [])
        return _run(plain_item(found[0])) if found else None

    def get(self, run: str) -> dict[str, Any] | None:
        found = self._ddb.get_item(TableName=self.name, Key={"PK": {"S": RUNS}, "SK": {"S": f"RUN#{run}"}}).get("Item")
        return _run(plain_item(found)) if found else None


def _run(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": item["run"],
        "at": item.get("at"),
        "differences": int(item.get("differences") or 0),
        "total_units": int(item.get("totalUnits") or 0),
        "missing_levels": int(item.get("missingLevels") or 0),
        "exported_items": int(item.get("exportedItems") or 0),
        "worst": json.loads(item.get("worst") or "[]"),
    }


class Repairs:
    """A level set to its expected value, only if it still holds what the run saw."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb, self.name = dynamodb_client, table_name

    def repair(self, difference: Difference, *, cause: str, who: str, at: str) -> tuple[bool, str]:
        """(repaired, why not): the write's condition is the stored quantity the run saw (or no level)."""
        key = {"PK": {"S": f"WH#{difference.warehouse}"}, "SK": {"S": f"ITEM#{difference.item_id}"}}
        values: dict[str, Any] = {
            ":expected": {"N": str(difference.expected)},
            ":at": {"S": at},
            ":cause": {"S": cause},
            ":none": {"S": ""},
            ":who": {"S": who},
        }
        if difference.stored is None:
            condition = "attribute_not_exists(PK)"
            extra, created = new_level(difference.warehouse, difference.item_id)
            values.update(created)
        else:
            condition = "quantity = :seen"
            values[":seen"] = {"N": str(difference.stored)}
            extra = ""
        try:
            self._ddb.update_item(
                TableName=self.name,
                Key=key,
                UpdateExpression="SET quantity = :expected, updatedAt = :at, changedAt = :at, lastSourceKey = :cause, "
                "lastSourceLines = :none, lastChangedBy = :who" + extra,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
            now = "no level" if not old else f"{plain_item(old).get('quantity')}"
            seen = "no level" if difference.stored is None else str(difference.stored)
            return False, f"it moved since the run: the run saw {seen}, it holds {now} now"
        return True, ""
