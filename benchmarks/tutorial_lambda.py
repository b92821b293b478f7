"""The tutorial-style Lambda the pipeline must beat: the way most public samples ingest a Firehose object.

`json.loads` per line, one `put_item` per record through the boto3 resource API, no lake, no condition, no
validation beyond what json.loads refuses. Run by `python -m benchmarks.handler_run --tutorial` with the same
in-process AWS answers as the project's handler, so the two are measured the same way.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import unquote_plus

import boto3


def make_handler(session: Any, table_name: str) -> Any:
    s3 = session.client("s3")
    table = session.resource("dynamodb").Table(table_name)

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for message in event["Records"]:
            for record in json.loads(message["body"])["Records"]:
                bucket, key = record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                for line in body.decode().splitlines():
                    if not line.strip():
                        continue
                    update = json.loads(line)
                    table.put_item(
                        Item={
                            "PK": f"RET#{update['retailerId']}#ACC#{update['accountId']}",
                            "SK": f"ART#{update['articleId']}#CH#{update['channelId']}",
                            **update,
                        }
                    )
        return {"batchItemFailures": []}

    return lambda_handler


__all__ = ["boto3", "make_handler"]
