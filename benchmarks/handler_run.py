"""One handler invocation on one Firehose object, in a process of its own (so its peak memory is its own).

    python -m benchmarks.handler_run <object file> [--tutorial] [--key <object key>]   -> one JSON line on stdout

The key decides the input kind (a Firehose object by default; any key the ingest function routes).

AWS requests are answered in-process by the request counter (no network, no moto): the figure is the handler's
own work, botocore's per-request serialisation and signing included, and the exact requests it makes.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from benchmarks.common import isolate

isolate()

BUCKET, KEY = "bench-bucket", "raw/stock-updates/2026/11/24/10/stock-pipeline-bench.gz"


def sqs_event(bucket: str, key: str, etag: str) -> dict:
    body = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventTime": "2026-11-24T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": etag, "size": 1}},
            }
        ]
    }
    return {
        "Records": [
            {
                "messageId": "bench-1",
                "receiptHandle": "r",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:000000000000:bench",
                "awsRegion": "eu-central-1",
            }
        ]
    }


def peak_rss_mb() -> float:
    """VmHWM, the peak resident set of this process (what Lambda reports as Max Memory Used). Not ru_maxrss:
    Linux carries that across fork and exec, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(path: str, *, tutorial: bool = False, key: str = KEY) -> dict:
    import boto3

    from benchmarks.transport import RequestCounter
    from stock_pipeline.domain.stock_updates import latest_per_article, parse_stock_updates

    data = Path(path).read_bytes()
    session = boto3.session.Session()
    counter = RequestCounter({(BUCKET, key): data}).install(session)
    if tutorial:
        from benchmarks.tutorial_lambda import make_handler

        tutorial_handler = make_handler(session, "bench-table")

        def run(event: dict) -> dict:
            return tutorial_handler(event, None)
    else:
        from stock_pipeline.config import Settings
        from stock_pipeline.handlers.ingest import build_dependencies, handle

        topic = "arn:aws:sns:eu-central-1:000000000000:bench"
        settings = Settings(
            table_name="bench-table",
            bucket_name=BUCKET,
            feed_status_topic_arn=topic,
            restock_topic_arn=topic,
            supplier_profiles_key="reference/supplier_profiles.json",
        )
        deps = build_dependencies(settings, session)

        def run(event: dict) -> dict:
            return handle(event, None, deps)

    before_mb = peak_rss_mb()
    cpu_before = time.process_time()
    start = time.perf_counter()
    response = run(sqs_event(BUCKET, key, "bench"))
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_before
    assert response == {"batchItemFailures": []}, response
    peak_mb = peak_rss_mb()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mb": peak_mb,
        "rss_before_mb": before_mb,
        "distinct_keys": latest_per_article(parse_stock_updates(data).table).num_rows if key == KEY else None,
        "requests": dict(counter.counts),
    }


if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src")]
    options = sys.argv[2:]
    key = options[options.index("--key") + 1] if "--key" in options else KEY
    print(json.dumps(main(sys.argv[1], tutorial="--tutorial" in options, key=key)))
