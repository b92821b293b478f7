"""Stock files as warehouses upload them: inventory transaction files and restock thresholds files."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

WAREHOUSES = ("Berlin 1", "Borkum 1", "Hamburg 2", "München 3")
ITEMS = (
    ("a123v5", "tecRacer T-Shirt"),
    ("g45678", "AWS Sticker"),
    ("h99001", "Serverless Mug"),
    ("k20002", "Lambda Hoodie"),
    ("m30303", "Kinesis Cap"),
)
HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


def inventory_key(when: datetime) -> str:
    """`inventory_files/<yyyy>/<mm>/<dd>/<yyyymmddHHMMSS>_inventory.csv`."""
    return f"inventory_files/{when:%Y/%m/%d}/{when:%Y%m%d%H%M%S}_inventory.csv"


def thresholds_key(day: datetime) -> str:
    return f"restock_thresholds/{day:%Y/%m/%d}/restock_thresholds.json"


def inventory_file(
    rows: int,
    *,
    start: datetime,
    seed: int | None = None,
    sales: bool = False,
    warehouses: Sequence[str] = WAREHOUSES,
    items: Sequence[tuple[str, str]] = ITEMS,
) -> str:
    """A TAB-separated transaction file; with `sales` every row is a sale (a negative change)."""
    rng = random.Random(seed)
    lines = [HEADER]
    for n in range(rows):
        when = (start + timedelta(seconds=n)).astimezone(UTC)
        item_id, name = rng.choice(list(items))
        change = -rng.randint(1, 5) if sales else rng.choice([rng.randint(-8, -1), rng.randint(1, 40)])
        lines.append(
            f"{when:%Y-%m-%dT%H:%M:%S.%f}+00:00\t{rng.choice(list(warehouses))}\t{item_id}\t{name}\t{change}\n"
        )
    return "".join(lines)


def thresholds_file(thresholds: dict[str, int]) -> str:
    return json.dumps({"ThresholdList": [{"ItemId": k, "RestockIfBelow": v} for k, v in thresholds.items()]}, indent=2)
