"""What became of each uploaded file (`FILE#<key>#<etag>` / `OUTCOME`), for the console's Files page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stock_pipeline.adapters.stock_table import plain_item


class FileOutcomes:
    """What became of each uploaded file (`FILE#<key>#<etag>` / `OUTCOME`): the web console's Files page reads
    these; one item per file and ETag, rewritten by a re-delivery with the same content."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    def record(self, key: str, etag: str, outcome: Mapping[str, Any], *, at: str, expires_at: int) -> None:
        item = {
            "PK": {"S": f"FILE#{key}#{etag}"},
            "SK": {"S": "OUTCOME"},
            "entity": {"S": "FileOutcome"},
            "status": {"S": str(outcome["status"])},
            "summary": {"S": str(outcome.get("summary") or "")},
            "rejected": {"N": str(int(outcome.get("rejected") or 0))},
            "at": {"S": at},
            "ttl": {"N": str(expires_at)},
        }
        if outcome.get("rejected_key"):
            item["rejectedKey"] = {"S": str(outcome["rejected_key"])}
        if outcome.get("uploaded_by"):
            item["uploadedBy"] = {"S": str(outcome["uploaded_by"])}
        self._ddb.put_item(TableName=self.name, Item=item)

    def outcomes(self, files: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """(key, etag) -> outcome, for the files that have one (BatchGetItem, 100 a request)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = {f"FILE#{key}#{etag}": (key, etag) for key, etag in files}
        keys = [{"PK": {"S": pk}, "SK": {"S": "OUTCOME"}} for pk in wanted]
        for start in range(0, len(keys), 100):
            request = {self.name: {"Keys": keys[start : start + 100]}}
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.name, []):
                    plain = plain_item(item)
                    found[wanted[plain["PK"]]] = plain
                request = response.get("UnprocessedKeys") or {}
        return found

    def claim_summary(self, files: list[tuple[str, str]], *, at: str, expires_at: int) -> bool:
        """True once for a set of files (key, etag): the one call that sends their import summary. A page that
        asks again, or two people's pages, find it claimed."""
        import hashlib

        digest = hashlib.sha256("\n".join(sorted(f"{key}#{etag}" for key, etag in files)).encode()).hexdigest()
        try:
            self._ddb.put_item(
                TableName=self.name,
                Item={
                    "PK": {"S": f"IMPORT#{digest}"},
                    "SK": {"S": "SUMMARY"},
                    "entity": {"S": "ImportSummary"},
                    "files": {"N": str(len(files))},
                    "at": {"S": at},
                    "ttl": {"N": str(expires_at)},
                },
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True
