"""Inventory files and thresholds on the local stack: upload -> level in DynamoDB -> e-mail on the restock topic."""

import json

import pytest

from loadgen.files import HEADER
from tests.e2e.conftest import upload

pytestmark = pytest.mark.e2e


def level(stack, warehouse, item):
    found = stack.client("dynamodb").get_item(
        TableName=stack.outputs["StockTableName"], Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}}
    )["Item"]
    return int(found["quantity"]["N"])


def test_upload_to_level_to_restock_email_and_a_second_upload_changes_nothing(local_stack, inbox):
    # Given a threshold of 20 for e2e-1 and a stock of 25 in a warehouse
    upload(
        local_stack,
        "restock_thresholds/2026/11/20/restock_thresholds.json",
        json.dumps({"ThresholdList": [{"ItemId": "e2e-1", "RestockIfBelow": 20}]}),
    )
    upload(
        local_stack,
        "inventory_files/2026/11/20/20261120080000_inventory.csv",
        HEADER + "2026-11-20T08:00:00Z\tE2E Hall\te2e-1\tE2E Widget\t25\n",
    )
    local_stack.drain()
    inbox.read()

    # When a file of sales takes it to 12, uploaded twice
    sales = (
        HEADER
        + "2026-11-20T09:00:00+01:00\tE2E Hall\te2e-1\tE2E Widget\t-5\n"
        + "2026-11-20T09:30:00Z\tE2E Hall\te2e-1\tE2E Widget\t-8\n"
    )
    upload(local_stack, "inventory_files/2026/11/20/202611200900_inventory.csv", sales)
    local_stack.drain()
    first = inbox.read()
    upload(local_stack, "inventory_files/2026/11/20/202611200900_inventory.csv", sales)
    local_stack.drain()

    # Then the level went down once, and exactly one e-mail says where, what, how many and why
    assert level(local_stack, "E2E Hall", "e2e-1") == 12
    [email] = first
    assert email["attributes"] == {"warehouse": "E2E Hall", "itemId": "e2e-1", "kind": "restock"}
    assert email["subject"] == "Restock E2E Widget at E2E Hall: 12 left (below 20)"
    assert "inventory_files/2026/11/20/202611200900_inventory.csv" in email["message"]
    assert inbox.read() == []
