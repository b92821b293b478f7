"""A report of N items read page by page through the reports handler, in a process of its own (its peak memory
is its own); DynamoDB answered in-process with canned pages of 1,000 levels.

    python -m benchmarks.reports_run <items>   -> one JSON line on stdout
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import isolate

isolate()

PAGE = 1000


def answer(items: int) -> Any:
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    from benchmarks.reports import level_item
    from benchmarks.transport import _Body

    def hook(request: Any, event_name: str = "", **_: Any) -> AWSResponse:
        operation = event_name.split(".")[-1]
        body: dict[str, Any] = {}
        if operation == "GetItem":
            body = {"Item": {"PK": {"S": "WAREHOUSES"}}}
        elif operation == "Query":
            asked = json.loads(request.body)
            start = int(asked.get("ExclusiveStartKey", {}).get("SK", {}).get("S", "ITEM#item--00001")[10:]) + 1
            end = min(items, start + int(asked["Limit"]))
            body = {"Items": [level_item("Big", n, n % 997) for n in range(start, end)], "Count": end - start}
            if end < items:
                body["LastEvaluatedKey"] = {"PK": {"S": "WH#Big"}, "SK": {"S": f"ITEM#item-{end - 1:06d}"}}
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 200, headers, _Body(json.dumps(body).encode()))

    return hook


def main(items: int) -> dict[str, Any]:
    import boto3

    from benchmarks.handler_run import peak_rss_mb
    from stock_pipeline.config import Settings
    from stock_pipeline.handlers import reports

    session = boto3.session.Session()
    session.events.register("before-send", answer(items))
    deps = reports.build_dependencies(Settings(table_name="bench", bucket_name="bench"), session)
    event = json.loads((Path(__file__).parents[1] / "events" / "http_api_warehouse_items.json").read_text())
    event["rawPath"], event["pathParameters"] = "/warehouses/Big/items", {"warehouse": "Big"}
    before = peak_rss_mb()
    start = time.perf_counter()
    rows = pages = 0
    token = None
    while True:
        request = copy.deepcopy(event)
        request["queryStringParameters"] = {"limit": str(PAGE), **({"next": token} if token else {})}
        response = reports.handle(request, None, deps)
        assert response["statusCode"] == 200, response
        body = json.loads(response["body"])
        rows += body["count"]
        pages += 1
        token = body["next"]
        if not token:
            break
    return {
        "rows": rows,
        "pages": pages,
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
    }


if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src")]
    print(json.dumps(main(int(sys.argv[1]))))
