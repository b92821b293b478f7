"""Stock history: what the stream's second consumer costs per batch, against merely reading the batch.

A batch is 1,000 stream records as Lambda delivers them (the mapping's BatchSize), each an article's stock changed
by a stock update (DynamoDB JSON images, the attributes the ingest function writes). Baseline, measured in the same
run: Powertools' stream event classes deserializing every record's keys and images, which any consumer does. The
history handler's work: the same, plus the rows (old, new, delta, cause) and their Snappy Parquet file. The S3 PUT
is left out (one request per batch, priced in `make cost`). Figures also feed `make cost` (docs/benchmarks.json).
"""

from __future__ import annotations

import json
import random
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

from benchmarks.common import ROOT, interleaved, stamp
from stock_pipeline.adapters.lake import encode
from stock_pipeline.domain.history import history_rows
from stock_pipeline.handlers.history import stream_changes

BATCH = 1_000
ROUNDS = 7
GOAL_RATIO = 10.0  # the history's rows and Parquet within 10x of reading the batch
RESULTS_JSON = ROOT / "docs" / "benchmarks.json"


def stream_event(records: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)

    def image(retailer: str, account: int, article: int, quantity: int, line: int) -> dict[str, Any]:
        return {
            "PK": {"S": f"RET#{retailer}#ACC#{account}"},
            "SK": {"S": f"ART#{article}#CH#1"},
            "retailerId": {"S": retailer},
            "accountId": {"N": str(account)},
            "articleId": {"N": str(article)},
            "channelId": {"N": "1"},
            "articleNumber": {"N": str(article * 7)},
            "productId": {"S": f"p-{article}"},
            "quantity": {"N": str(quantity)},
            "lastUpdated": {"S": f"2026-11-26T08:{line % 60:02d}:00.000000Z"},
            "sourceLine": {"N": str(line)},
            "entity": {"S": "ArticleStock"},
            "sourceKey": {"S": "raw/stock-updates/2026/11/26/08/stock-1-2026-11-26-08-00-00-abc.gz"},
        }

    out = []
    for n in range(records):
        retailer, account, article = f"retailer-{rng.randint(1, 50)}", rng.randint(1, 500), rng.randint(1, 10**6)
        old, new = rng.randint(0, 500), rng.randint(0, 500)
        out.append(
            {
                "eventID": f"{n:032x}",
                "eventName": "MODIFY",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-central-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1795680000 + n // 100,
                    "Keys": {k: v for k, v in image(retailer, account, article, 0, 0).items() if k in ("PK", "SK")},
                    "OldImage": image(retailer, account, article, old, n),
                    "NewImage": image(retailer, account, article, new, n + 1),
                    "SequenceNumber": str(10**20 + n),
                    "SizeBytes": 700,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
        )
    return {"Records": out}


def measure(batch: int, rounds: int) -> dict[str, Any]:
    event = stream_event(batch)

    def read() -> None:
        for record in DynamoDBStreamEvent(event).records:
            _ = (record.dynamodb.keys, record.dynamodb.old_image, record.dynamodb.new_image)

    def history() -> bytes:
        return encode(history_rows(stream_changes(event)))

    timings = interleaved({"read": read, "history": history}, rounds)
    rows = history_rows(stream_changes(event)).num_rows
    size = len(history())
    return {
        "records_per_batch": batch,
        "rows_per_batch": rows,
        "read_seconds": timings["read"].best_s,
        "seconds_per_batch": timings["history"].best_s,
        "parquet_bytes_per_row": size / rows,
    }


def run(quick: bool = False) -> tuple[str, bool]:
    m = measure(100 if quick else BATCH, 2 if quick else ROUNDS)
    ratio = m["seconds_per_batch"] / m["read_seconds"]
    read_ms, history_ms = m["read_seconds"] * 1000, m["seconds_per_batch"] * 1000
    if not quick:
        kept = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
        RESULTS_JSON.write_text(json.dumps({**kept, "history": m}, indent=2) + "\n")
    markdown = f"""## Stock history (the table stream's second consumer)

{stamp("make bench")} (this suite alone: `make bench ARGS="--only history"`)

| per batch of {m["records_per_batch"]:,} stream records | time | ratio |
|---|---:|---:|
| baseline: deserialize every record (Powertools stream event classes) | {read_ms:,.1f} ms | 1.0x |
| history: the same + rows (old, new, delta, cause) + Snappy Parquet | {history_ms:,.1f} ms | **{ratio:.1f}x** |

{m["rows_per_batch"]:,} history rows, **{m["parquet_bytes_per_row"]:,.0f} bytes per row** in Parquet. Goal: within
{GOAL_RATIO:.0f}x of the baseline ({"met" if ratio <= GOAL_RATIO else "missed"}). `make cost` prices the history
per million updates from these figures (docs/cost.md).
"""
    return markdown, ratio <= GOAL_RATIO
