"""The reports API over HTTP on the local stack: routes from the translated template, SigV4 checked like IAM."""

import json
import urllib.error
import urllib.request

import boto3
import pytest

from stockctl.__main__ import main
from stockctl.stack import ReportsClient
from tests.e2e.conftest import upload

pytestmark = pytest.mark.e2e

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


@pytest.fixture(scope="module")
def stocked(local_stack):
    rows = "".join(f"2026-11-25T09:00:00+00:00\tLager Süd 7\tsku-{n:03d}\tWidget {n}\t{n}\n" for n in range(250))
    upload(local_stack, "inventory_files/2026/11/25/20261125090000_inventory.csv", HEADER + rows)
    local_stack.drain()
    return local_stack


@pytest.fixture(scope="module")
def client(stocked):
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=stocked.region
    )
    return ReportsClient(stocked.outputs["ReportsApiUrl"], session, stocked.region)


def test_the_api_url_is_local_under_the_templates_output_name(stocked):
    assert stocked.outputs["ReportsApiUrl"].startswith("http://127.0.0.1:")


def test_a_signed_request_gets_report_2_across_pages(client):
    seen, token = [], None
    while True:
        status, headers, body = client.get(
            "/warehouses/Lager%20S%C3%BCd%207/items", {"min_quantity": 200, "limit": 20, "next": token}
        )
        assert status == 200
        page = json.loads(body)
        seen += [row["quantity"] for row in page["items"]]
        token = headers.get("X-Next-Token")
        if not token:
            break
    assert sorted(seen) == list(range(201, 250))


def test_an_unsigned_or_wrongly_signed_request_is_refused_like_iam(stocked):
    url = stocked.outputs["ReportsApiUrl"] + "/warehouses"
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(url, timeout=10)
    assert unsigned.value.code == 403
    wrong = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="not-the-secret", region_name=stocked.region
    )
    status, _, body = ReportsClient(stocked.outputs["ReportsApiUrl"], wrong, stocked.region).get("/warehouses", {})
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_csv_and_problems_over_http(client):
    status, headers, body = client.get("/items/sku-007/total", {}, csv=True)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert body.decode().splitlines()[1].startswith("Lager Süd 7,7,")
    status, headers, body = client.get("/warehouses/Lager%20S%C3%BCd%207/items", {"limit": "lots"})
    assert status == 400 and json.loads(body)["parameter"] == "limit"
    assert client.get("/warehouses/Nowhere/items", {})[0] == 404


def test_the_cli_reads_a_report_from_the_local_stack(stocked, tmp_path, capsys):
    state = tmp_path / ".local-stack.json"
    state.write_text(json.dumps(stocked.describe()))

    code = main(
        [
            "report",
            "items",
            "--warehouse",
            "Lager Süd 7",
            "--above",
            "245",
            "--local",
            str(state),
            "--all",
            "--limit",
            "2",
            "--csv",
        ]
    )

    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert lines[0] == "warehouse,item_id,item_name,quantity,below_threshold,updated_at,daily_sales,days_of_cover"
    assert sorted(int(line.split(",")[3]) for line in lines[1:]) == [246, 247, 248, 249]
