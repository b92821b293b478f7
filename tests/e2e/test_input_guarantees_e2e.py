"""Every object under an input prefix ends visibly, through the local stack's public entry point (an S3 upload,
the bucket's notification configuration from template.yaml, the queue, the ingest function)."""

import json

from tests.e2e.conftest import upload

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


def test_upper_case_extensions_arrive_and_unknown_names_get_a_failed_notice(local_stack):
    notices = local_stack.inbox(local_stack.outputs["FeedStatusTopicArn"], name="input-guarantees")
    upload(
        local_stack,
        "inventory_files/2026/11/25/20261125090000_inventory.CSV",
        HEADER + "2026-11-25T08:00:00Z\tUpper 1\tu1\tUmbrella\t6\n",
    )
    upload(local_stack, "restock_thresholds/2026/11/25/thresholds-final.json", '{"ThresholdList": []}')
    local_stack.drain()
    ddb = local_stack.client("dynamodb")
    level = ddb.get_item(
        TableName=local_stack.outputs["StockTableName"],
        Key={"PK": {"S": "WH#Upper 1"}, "SK": {"S": "ITEM#u1"}},
    )["Item"]
    assert level["quantity"] == {"N": "6"}
    [notice] = notices.read()
    assert notice["attributes"]["status"] == "FAILED"
    assert json.loads(notice["message"])["summary"] == (
        "restock_thresholds/2026/11/25/thresholds-final.json: not processed: the name does not match "
        "restock_thresholds/<yyyy>/<mm>/<dd>/restock_thresholds.json (extensions in any letter case)"
    )
