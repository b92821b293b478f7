"""Days of cover end to end on the local stack: inventory files uploaded to S3 (two weeks of sales), the forecast
workflow started as its schedule does, then the reports API (level rows and the stock-outs report), the restock
e-mail of a crossing and the digest (started by hand like the validation) must tell the same numbers."""

import io
import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow.parquet as pq
import pytest

from local_aws import stepfunctions as local_stepfunctions
from stockctl.__main__ import main as stockctl_main
from stockctl.stack import ReportsClient
from tests.e2e.conftest import upload

pytestmark = pytest.mark.e2e

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
WAREHOUSE = "Vorrat Nord"
AS_OF = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def when(days_ago: float) -> str:
    return (AS_OF - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_key(moment: datetime, n: int) -> str:
    return f"inventory_files/{moment:%Y/%m/%d}/{moment:%Y%m%d%H%M}{n:02d}_inventory.csv"


def start(stack, payload):
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack.outputs["ForecastStateMachineArn"], input=json.dumps(payload))[
        "executionArn"
    ]
    local_stepfunctions.wait_for_executions()
    execution = sfn.describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    return json.loads(execution["output"])


@pytest.fixture(scope="module")
def forecast(local_stack, inbox, client):
    """Two weeks ago: a delivery. Every day since: fast sells 2, steady 3, slow 1 every other day; idle nothing.
    Then the nightly rates, as at 00:00 UTC today: the workflow's result and the warehouse's report page as they
    stand right then (a later test of the module sells more)."""
    rows = [
        (14 - 1 / 24, "fast", 40),
        (14 - 1 / 24, "slow", 30),
        (14 - 1 / 24, "idle", 12),
        (14 - 1 / 24, "steady", 100),
    ]
    for day in range(1, 15):
        rows += [(day - 0.5, "fast", -2), (day - 0.5, "steady", -3)] + ([(day - 0.5, "slow", -1)] if day % 2 else [])
    for n, days_ago in enumerate(sorted({r[0] for r in rows}, reverse=True)):  # one file a day
        lines = "".join(
            f"{when(d)}\t{WAREHOUSE}\t{item}\t{item.title()}\t{change}\n" for d, item, change in rows if d == days_ago
        )
        upload(local_stack, file_key(AS_OF - timedelta(days=days_ago), n), HEADER + lines)
    local_stack.drain()
    inbox.read()  # the crossings of the history itself are not what this module checks
    result = start(local_stack, {"job": "rates", "scheduledTime": AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")})
    local_stack.drain()  # the rate writes pass the stream too (no quantity change: no alert, no history row)
    page, _ = get(client, f"/warehouses/{WAREHOUSE.replace(' ', '%20')}/items", {})
    return {"result": result, "rows": {row["item_id"]: row for row in page["items"]}}


@pytest.fixture(scope="module")
def client(local_stack):
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=local_stack.region
    )
    return ReportsClient(local_stack.outputs["ReportsApiUrl"], session, local_stack.region)


def get(client, path, query):
    status, headers, body = client.get(path, query)
    assert status == 200, body
    return json.loads(body), headers


def test_the_nightly_rates_are_on_every_level_row_and_in_the_lake(local_stack, forecast):
    assert forecast["result"]["written"] >= 3 and forecast["result"]["selling"] >= 3
    rows = forecast["rows"]
    assert {k: (rows[k]["quantity"], rows[k]["daily_sales"], rows[k]["days_of_cover"]) for k in rows} == {
        "fast": (12, 2.0, 6.0),
        "slow": (23, 0.5, 46.0),
        "steady": (58, 3.0, 19.3),
        "idle": (12, None, None),  # never sold: no cover, not zero
    }
    key = f"curated/daily_rates/dt={AS_OF.date().isoformat()}/rates.snappy.parquet"
    body = local_stack.client("s3").get_object(Bucket=local_stack.outputs["DataBucketName"], Key=key)["Body"].read()
    lake = {r["item_id"]: r for r in pq.read_table(io.BytesIO(body)).to_pylist() if r["warehouse"] == WAREHOUSE}
    assert {k: (v["units_sold"], v["observed_days"], v["daily_sales"]) for k, v in lake.items()} == {
        "fast": (28, 14, 2.0),
        "slow": (7, 14, 0.5),
        "steady": (42, 14, 3.0),
        "idle": (0, 14, 0.0),
    }


def test_a_crossing_e_mail_the_stockouts_report_and_the_digest_tell_the_same_cover(
    local_stack, forecast, client, inbox, capsys, tmp_path
):
    today = datetime.now(UTC)
    upload(
        local_stack,
        file_key(today, 99),
        HEADER + f"{today:%Y-%m-%dT%H:%M:%SZ}\t{WAREHOUSE}\tfast\tFast\t-5\n"
        f"{today:%Y-%m-%dT%H:%M:%SZ}\t{WAREHOUSE}\tslow\tSlow\t-15\n",
    )
    local_stack.drain()
    alerts = {
        m["attributes"]["itemId"]: m["message"] for m in inbox.read() if m["attributes"].get("warehouse") == WAREHOUSE
    }
    assert set(alerts) == {"fast", "slow"}
    assert "Daily sales:    2 a day (last 28 days)" in alerts["fast"]
    assert "Days of cover:  about 3.5 days at the current rate" in alerts["fast"]
    assert "Days of cover:  about 16 days at the current rate" in alerts["slow"]

    # the report: within 7 days only fast; within 20 also slow and steady, fewest days first, across pages
    page, _ = get(client, "/forecast/stockouts", {"within_days": 7, "warehouse": WAREHOUSE})
    assert [(r["item_id"], r["quantity"], r["days_of_cover"]) for r in page["items"]] == [("fast", 7, 3.5)]
    seen, token = [], None
    while True:
        page, headers = get(
            client, "/forecast/stockouts", {"within_days": 20, "warehouse": WAREHOUSE, "limit": 1, "next": token}
        )
        assert page["matching"] == 3
        seen += [(r["item_id"], r["days_of_cover"]) for r in page["items"]]
        token = headers.get("X-Next-Token")
        if not token:
            break
    assert seen == [("fast", 3.5), ("slow", 16.0), ("steady", 19.3)]
    everywhere, _ = get(client, "/forecast/stockouts", {"within_days": 20})
    assert [r["item_id"] for r in everywhere["items"] if r["warehouse"] == WAREHOUSE] == ["fast", "slow", "steady"]

    # the digest, started by hand as the schedule would at DigestHourUtc: `python -m stockctl forecast --digest`
    state = tmp_path / ".local-stack.json"
    state.write_text(json.dumps(local_stack.describe()))
    command = ["forecast", "--digest", "--local", str(state), "--wait", "--poll", "0.05"]
    assert stockctl_main(command) == 0
    assert "SUCCEEDED" in capsys.readouterr().out
    digests = [m for m in inbox.read() if m["attributes"].get("kind") == "digest"]
    assert len(digests) == 1
    text = digests[0]["message"]
    section = text.split(f"== {WAREHOUSE} (2)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        "- fast Fast: 7 left (restock below 10); 2 a day, 3.5 days of cover [below threshold, running out]",
        "- slow Slow: 8 left (restock below 10); 0.5 a day, 16 days of cover [below threshold]",
    ]
    assert re.search(r"Every entry as CSV: s3://\S+/reports/digest/\d{4}-\d\d-\d\d\.csv", text)
    # the console's address as deployed (the template's execute-api URL; the local stack serves it on 127.0.0.1)
    assert re.search(
        rf"Console overview: https://\w+\.execute-api\.{local_stack.region}\.amazonaws\.com/console\n", text
    )
    # one a day: the schedule firing again (or a second manual start) sends nothing
    assert stockctl_main(command) == 0
    assert '"status": "SKIPPED"' in capsys.readouterr().out
    assert [m for m in inbox.read() if m["attributes"].get("kind") == "digest"] == []
