"""`python -m loadgen` against the local stack, as a user runs it after `make up`."""

import json

import pytest

from loadgen.__main__ import main
from loadgen.kdg import Renderer

pytestmark = pytest.mark.e2e

TEMPLATE = (
    '{"accountId": {{random.number(3)}}, "retailerId": "loadgen-{{random.arrayElement(["north", "south"])}}", '
    '"channelId": 1, "productId": "{{random.uuid}}", "articleId": {{random.number(400)}}, "articleNumber": 1, '
    '"lastUpdated": "{{date.utc(\'YYYY-MM-DDTHH:mm:ss.SSSZ\')}}", "quantity": {{random.number(100)}}}'
)


@pytest.fixture
def state_file(local_stack, tmp_path):
    path = tmp_path / ".local-stack.json"
    path.write_text(json.dumps(local_stack.describe()))
    return path


def test_send_renders_the_template_and_every_record_lands(local_stack, state_file, tmp_path, capsys):
    # Given a KDG template with arrayElement and uuid helpers
    template = tmp_path / "template.json"
    template.write_text(TEMPLATE)

    # When 1,500 records are sent through the stack's Firehose stream
    code = main(
        [
            "send",
            "--local",
            str(state_file),
            "--template",
            str(template),
            "--count",
            "1500",
            "--rate",
            "50000",
            "--seed",
            "4",
            "--quiet",
        ]
    )
    local_stack.drain()

    # Then all were sent in batches, and the pipeline stored one item per distinct article
    assert code == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("sent 1500, failed 0, retried 0 in 3 calls")
    expected = set()
    renderer = Renderer(4).compile(TEMPLATE)
    for _ in range(1500):
        r = json.loads(renderer())
        expected.add((r["retailerId"], r["accountId"], r["articleId"]))
    ddb = local_stack.client("dynamodb")
    items = []
    for page in ddb.get_paginator("scan").paginate(
        TableName=local_stack.outputs["StockTableName"],
        FilterExpression="begins_with(PK, :p)",
        ExpressionAttributeValues={":p": {"S": "RET#loadgen-"}},
    ):
        items.extend(page["Items"])
    assert len(items) == len(expected)


def test_file_generators_upload_to_the_stack_bucket(local_stack, state_file, capsys):
    assert main(["products", "--items", "50", "--local", str(state_file)]) == 0
    local_stack.drain()
    assert main(["workbook", "--supplier", "globex", "--items", "50", "--local", str(state_file)]) == 0
    local_stack.drain()
    printed = capsys.readouterr().out
    assert f"s3://{local_stack.outputs['DataBucketName']}/supplier_feeds/globex/" in printed
    items = local_stack.client("dynamodb").query(
        TableName=local_stack.outputs["StockTableName"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "SUP#globex"}},
    )["Items"]
    assert len(items) == 50


def test_an_unknown_helper_stops_before_anything_is_sent(state_file, tmp_path, capsys):
    template = tmp_path / "bad.json"
    template.write_text('{"a": "{{faker.unknown.thing}}"}')
    assert main(["send", "--local", str(state_file), "--template", str(template), "--count", "5"]) == 2
    assert "unknown helper 'faker.unknown.thing' at position 7" in capsys.readouterr().err


def test_packed_records_are_read_like_any_others(local_stack, state_file, tmp_path, capsys):
    # Given updates of their own retailer, packed twenty-odd to a 5 KB Firehose record
    template = tmp_path / "packed.json"
    template.write_text(TEMPLATE.replace("loadgen-", "packed-"))

    # When they go through the stack's Firehose stream (which appends a newline to each record)
    arguments = ["send", "--local", str(state_file), "--template", str(template), "--count", "1000"]
    code = main([*arguments, "--rate", "1000", "--seed", "9", "--pack", "--quiet"])
    local_stack.drain()

    # Then far fewer records were sent and every distinct article was stored, nothing rejected
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("sent 1000 in ") and "packed Firehose records, failed 0" in line
    assert int(line.split(" in ")[1].split()[0]) <= 60
    renderer = Renderer(9).compile(TEMPLATE.replace("loadgen-", "packed-"))
    renderer()  # the command renders one record to check the template before it sends
    expected = {
        (r["retailerId"], r["accountId"], r["articleId"]) for r in (json.loads(renderer()) for _ in range(1000))
    }
    ddb = local_stack.client("dynamodb")
    count = sum(
        page["Count"]
        for page in ddb.get_paginator("scan").paginate(
            TableName=local_stack.outputs["StockTableName"],
            FilterExpression="begins_with(PK, :p)",
            ExpressionAttributeValues={":p": {"S": "RET#packed-"}},
            Select="COUNT",
        )
    )
    assert count == len(expected)
    s3 = local_stack.client("s3")
    bucket = local_stack.outputs["DataBucketName"]
    rejected = s3.list_objects_v2(Bucket=bucket, Prefix="rejected/raw/stock-updates/").get("Contents", [])
    assert not any(b"packed-" in s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in rejected)
