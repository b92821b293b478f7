"""The web console's API on the local stack: JWT-only data routes, sign-in, presigned uploads S3 holds to their
policy, and today's files with what became of them."""

import datetime
import io
import json
import urllib.error
import urllib.request

import pyarrow.parquet as pq
import pytest
import requests

from loadgen.workbooks import product_table_csv, supplier_feed

STACK_PARAMETERS = {"ConsoleUploadLimitMB": "1"}
REGIONS = ["eu-central-1", "us-east-1"]


def call(url, method="GET", body=None, token=None, headers=None, timeout=30):
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


API_ROUTES = [
    ("GET", "/api/profiles"),
    ("POST", "/api/uploads"),
    ("POST", "/api/imports"),
    ("POST", "/api/repairs"),
    ("GET", "/api/files"),
    ("GET", "/api/rejected?key=rejected/x.rejected.jsonl"),
    ("GET", "/api/reports/warehouses"),
    ("GET", "/api/reports/items/a1/total"),
    ("POST", "/api/adjustments"),
    ("POST", "/api/transfers"),
    ("POST", "/api/stocktakes"),
    ("GET", "/api/overview"),
    ("GET", "/api/items/a1"),
]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_a_signed_out_or_forged_request_to_any_console_api_route_is_refused(console, token, method, path):
    assert call(console + path, method, {} if method == "POST" else None)[0] == 401
    header, claims, signature = token.split(".")
    forged = ".".join([header, claims, signature[::-1]])
    assert call(console + path, method, {} if method == "POST" else None, token=forged)[0] == 401
    assert call(console + path, method, {} if method == "POST" else None, token=token)[0] in (200, 400, 404)


def test_the_reports_api_keeps_iam_for_programs(stack, console, token):
    base = stack.outputs["ReportsApiUrl"]
    assert call(f"{base}/warehouses")[0] == 403  # unsigned
    assert call(f"{base}/warehouses", token=token)[0] == 403  # a console token is not a signature


def test_the_page_is_public_and_locked_down(console):
    status, headers, body = call(console)
    assert status == 200 and b'<form id="signin-form">' in body
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in body.decode().split("<body>", 1)[1].split("</body>")[0]  # nothing fetched from elsewhere
    assert call(f"{console}/static/app.js")[0] == 200
    assert call(f"{console}/static/index.html")[0] == 404  # a fixed list of files, no paths


def test_sign_in_refuses_a_wrong_password_and_a_temporary_one_must_be_changed(stack, console):
    assert call(f"{console}/api/session", "POST", {**stack.console_credentials, "password": "nope"})[0] == 401
    idp = stack.client("cognito-idp")
    pool = stack.outputs["ConsoleUserPoolId"]
    idp.admin_create_user(UserPoolId=pool, Username="new-colleague", TemporaryPassword="Temporary-Pass1")
    status, _, body = call(
        f"{console}/api/session", "POST", {"username": "new-colleague", "password": "Temporary-Pass1"}
    )
    assert status == 200 and json.loads(body)["challenge"] == "NEW_PASSWORD_REQUIRED"
    changed = {"username": "new-colleague", "password": "Chosen-Password-2", "session": json.loads(body)["session"]}
    status, _, body = call(f"{console}/api/session", "POST", changed)
    assert status == 200 and json.loads(body)["accessToken"]


def presign(console, token, **request):
    status, _, body = call(f"{console}/api/uploads", "POST", request, token=token)
    return status, json.loads(body)


def test_a_presigned_post_writes_its_key_only_within_its_size_and_type(stack, console, token, s3, bucket):
    status, target = presign(console, token, kind="product", filename="products.csv", size=100)
    assert status == 200 and target["key"].startswith("reference/product/products-")
    policy_fields = target["fields"]

    outside = {**policy_fields, "key": "reference/store/evil.csv"}
    refused = requests.post(target["url"], data=outside, files={"file": ("x.csv", b"a,b\n")}, timeout=30)
    assert refused.status_code == 403
    too_big = requests.post(
        target["url"], data=policy_fields, files={"file": ("x.csv", b"x" * (1024 * 1024 + 1))}, timeout=30
    )
    assert too_big.status_code == 400 and b"EntityTooLarge" in too_big.content
    wrong_type = {**policy_fields, "Content-Type": "text/html"}
    assert requests.post(target["url"], data=wrong_type, files={"file": ("x.csv", b"a")}, timeout=30).status_code == 403
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="reference/store/evil")

    sent = requests.post(
        target["url"], data=policy_fields, files={"file": ("p.csv", product_table_csv(20))}, timeout=30
    )
    assert sent.status_code == 204
    assert s3.head_object(Bucket=bucket, Key=target["key"])["ContentType"] == "text/csv"

    assert presign(console, token, kind="store", filename="huge.csv", size=2 * 1024 * 1024)[0] == 400
    assert presign(console, token, kind="supplier_feed", filename="x.xlsx", size=10, supplier="../acme")[0] == 400


def test_todays_files_say_waiting_then_processed_or_failed_with_the_reason(stack, console, token, s3, bucket):
    # Given a product table that maps acme's parts (the feed below needs one)
    s3.put_object(Bucket=bucket, Key="reference/product/for-todays-files.csv", Body=product_table_csv(20))
    stack.drain()
    uploads = {}
    for name, body in (
        ("good.xlsx", supplier_feed("acme", 12, seed=1, unmapped=2)),
        ("broken.xlsx", b"not a workbook"),
    ):
        status, target = presign(console, token, kind="supplier_feed", filename=name, size=len(body), supplier="acme")
        assert status == 200
        fields = target["fields"]
        assert requests.post(target["url"], data=fields, files={"file": (name, body)}, timeout=30).status_code == 204
        uploads[name] = target["key"]

    def files():
        return {f["key"]: f for f in json.loads(call(f"{console}/api/files", token=token)[2])["files"]}

    assert {files()[uploads[n]]["status"] for n in uploads} == {"waiting"}
    stack.drain()
    now = files()
    good, broken = now[uploads["good.xlsx"]], now[uploads["broken.xlsx"]]
    assert good["status"] == "processed" and "14 rows read, 12 mapped, 2 unmapped" in good["summary"]
    assert broken["status"] == "FAILED" and "not processed" in broken["summary"]
    assert good["rejected"] == 2 and good["rejected_key"].startswith("rejected/supplier_feeds/acme/")

    status, _, body = call(f"{console}/api/rejected?key={good['rejected_key']}", token=token)
    rows = requests.get(json.loads(body)["url"], timeout=30).text.splitlines()
    assert status == 200 and len(rows) == 2 and "unmapped" in rows[0]
    assert call(f"{console}/api/rejected?key={uploads['good.xlsx']}", token=token)[0] == 400


def test_inventory_files_uploaded_in_the_same_second_keep_both_names_and_are_processed(stack, console, token):
    """The console finds a free name for an inventory file by listing the day's folder (its role may list the
    input prefixes, not read the files people uploaded)."""
    keys = []
    for n in range(2):
        header = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
        rows = f"{header}2026-12-06T08:00:0{n}Z\tUpload Hall\tu-1\tCup\t5\n"
        status, target = presign(console, token, kind="inventory", filename="counts.tsv", size=len(rows))
        assert status == 200, target
        sent = requests.post(
            target["url"], data=target["fields"], files={"file": ("counts.tsv", rows.encode())}, timeout=30
        )
        assert sent.status_code == 204
        keys.append(target["key"])
    assert len(set(keys)) == 2 and all(k.startswith("inventory_files/") for k in keys)
    stack.drain()
    files = {f["key"]: f for f in json.loads(call(f"{console}/api/files", token=token)[2])["files"]}
    assert [files[k]["status"] for k in keys] == ["processed", "processed"]


def test_s3_refuses_a_sigv2_upload_and_one_signed_for_another_region(stack, bucket):
    """What botocore makes without signature_version="s3v4" in us-east-1 (SigV2), and a SigV4 policy for the wrong
    Region: S3 answers both before looking at the policy."""
    import boto3
    from botocore.config import Config

    def signed(region, **config):
        client = boto3.client(
            "s3",
            region_name=region,
            endpoint_url=stack.endpoint,
            config=Config(**config),
            **stack.functions["ConsoleFunction"].client_credentials(),
        )
        return client.generate_presigned_post(bucket, "inventory_files/2026/12/06/20261206080000_inventory.csv")

    sigv2 = signed("us-east-1", signature_version="s3")
    assert "AWSAccessKeyId" in sigv2["fields"]
    answer = requests.post(sigv2["url"], data=sigv2["fields"], files={"file": ("f", b"x")}, timeout=30)
    assert answer.status_code == 400 and b"Please use AWS4-HMAC-SHA256" in answer.content

    other = "us-east-1" if stack.region != "us-east-1" else "eu-central-1"
    elsewhere = signed(other, signature_version="s3v4")
    answer = requests.post(elsewhere["url"], data=elsewhere["fields"], files={"file": ("f", b"x")}, timeout=30)
    assert answer.status_code == 400 and f"expecting '{stack.region}'".encode() in answer.content


def test_the_invitation_names_the_console_and_keeps_cognitos_placeholders(stack):
    """Cognito's custom message trigger, run as the invitation function (its role reads the URL parameter)."""
    import copy

    from local_aws.iam.policy import Principal, Request, compile_policy, evaluate
    from tests.conftest import load_event

    event = load_event("cognito_custom_message_admin_create_user.json")
    function = stack.functions["ConsoleInviteFunction"]
    answer = function.invoke(copy.deepcopy(event))["response"]
    url = stack.client("ssm").get_parameter(Name=f"/{stack.stack_name}/console-url")["Parameter"]["Value"]
    assert url.startswith("https://") and url.endswith(f".execute-api.{stack.region}.amazonaws.com/console")
    assert f"Sign in at {url}" in answer["emailMessage"]
    assert "{username}" in answer["emailMessage"] and "{####}" in answer["emailMessage"]
    assert "7 days" in answer["emailMessage"] and answer["emailSubject"]

    other = function.invoke({**copy.deepcopy(event), "triggerSource": "CustomMessage_ForgotPassword"})
    assert other["response"]["emailMessage"] is None  # Cognito's own message

    # Cognito may invoke it, from this pool only
    policy = json.loads(stack.client("lambda").get_policy(FunctionName=function.name)["Policy"])
    pool_arn = stack.client("cognito-idp").describe_user_pool(UserPoolId=stack.outputs["ConsoleUserPoolId"])[
        "UserPool"
    ]["Arn"]
    cognito = Principal("cognito-idp.amazonaws.com", "123456789012", "service", service="cognito-idp.amazonaws.com")

    def may(source):
        request = Request(
            cognito,
            "lambda:InvokeFunction",
            function.arn,
            {"aws:SourceArn": source, "aws:SourceAccount": "123456789012"},
        )
        return evaluate(request, resource_policy=compile_policy(policy)).allowed

    assert may(pool_arn) and not may(pool_arn.rsplit("/", 1)[0] + "/eu-central-1_other")


@pytest.mark.parametrize("path", ["/api/session", "/api/uploads", "/api/mfa"])
@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_no_json_object_is_the_callers_400(console, token, path, body):
    request = urllib.request.Request(
        console + path,
        method="POST",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=30)
    assert answer.value.code == 400
    assert "JSON" in json.loads(answer.value.read())["detail"]


def test_an_upload_names_who_made_it_in_its_outcome_its_levels_and_their_history(stack, console, token, s3, bucket):
    """The presigned POST carries the signed-in user as object metadata its policy holds fixed; the ingest function
    carries it into the file's outcome, the level (lastChangedBy) and the history's changed_by."""
    user = stack.console_credentials["username"]
    rows = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n2026-12-06T08:00:00Z\tWho Hall\tw-1\tCup\t9\n"
    status, target = presign(console, token, kind="inventory", filename="who.tsv", size=len(rows))
    assert status == 200 and target["fields"]["x-amz-meta-uploaded-by"] == user
    forged = {**target["fields"], "x-amz-meta-uploaded-by": "someone-else"}
    refused = requests.post(target["url"], data=forged, files={"file": ("who.tsv", rows.encode())}, timeout=30)
    assert refused.status_code == 403  # the browser cannot name another user
    sent = requests.post(target["url"], data=target["fields"], files={"file": ("who.tsv", rows.encode())}, timeout=30)
    assert sent.status_code == 204
    now = datetime.datetime.now(datetime.UTC)  # the files list shows today's files
    direct = f"inventory_files/{now:%Y/%m/%d}/{now:%Y%m%d}090000_inventory.csv"
    s3.put_object(Bucket=bucket, Key=direct, Body=rows.replace("w-1", "w-2").encode())
    stack.drain()

    files = {f["key"]: f for f in json.loads(call(f"{console}/api/files", token=token)[2])["files"]}
    assert files[target["key"]]["uploaded_by"] == user
    # straight to S3 by an IAM user (the tests' administrator): the event names its id only, never its name
    assert files[direct]["uploaded_by"] == "uploaded to S3 directly"
    ddb = stack.client("dynamodb")
    level = ddb.get_item(
        TableName=stack.outputs["StockTableName"], Key={"PK": {"S": "WH#Who Hall"}, "SK": {"S": "ITEM#w-1"}}
    )["Item"]
    assert level["lastChangedBy"] == {"S": user}
    history = [
        row
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_history/")
        for obj in page.get("Contents", [])
        for row in pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())).to_pylist()
        if row["warehouse"] == "Who Hall"
    ]
    # the history (an audit trail, read with SQL) keeps the id S3 gave; the console says what it is
    by = {r["item_id"]: (r["delta"], r["changed_by"]) for r in history}
    assert by["w-1"] == (9, user) and by["w-2"][0] == 9 and by["w-2"][1].startswith("AWS:AIDA")


def test_files_uploaded_as_history_send_one_summary_when_all_are_processed_and_none_of_their_past(
    stack, console, token, s3, bucket
):
    """The console's import of a handful of files: each goes up as an inventory upload (its rows keep their own
    times); the page asks for the summary until every file is processed, and it is e-mailed once."""
    inbox = stack.inbox(stack.outputs["RestockTopicArn"], name="console-history-inbox")
    header = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=40)
    days = [  # h-1 falls from 30 to 4 and back to 24; h-2 ends at 6: below the default threshold of 10 now
        [("h-1", 30), ("h-2", 20)],
        [("h-1", -26), ("h-2", -10)],
        [("h-1", 20), ("h-2", -4)],
    ]
    keys = []
    for n, changes in enumerate(days):
        when = start + datetime.timedelta(days=n)
        body = header + "".join(f"{when:%Y-%m-%dT%H:%M:%SZ}\tHistory Hall\t{i}\tMug\t{c}\n" for i, c in changes)
        status, target = presign(
            console, token, kind="inventory", filename=f"{when:%Y%m%d}0800_inventory.csv", size=len(body)
        )
        assert status == 200, target
        sent = requests.post(target["url"], data=target["fields"], files={"file": ("f.csv", body.encode())}, timeout=30)
        assert sent.status_code == 204
        keys.append(target["key"])

    status, _, body = call(f"{console}/api/imports", "POST", {"keys": keys}, token=token)
    assert (status, json.loads(body)) == (202, {"waiting": 3, "files": 3})
    stack.drain()
    status, _, body = call(f"{console}/api/imports", "POST", {"keys": keys}, token=token)
    summary = json.loads(body)
    assert status == 200 and summary["emailed"] is True
    assert summary["statuses"] == {"SUCCEEDED": 3} and summary["rejected_rows"] == 0
    assert ["History Hall", "h-2", 6, 10] in summary["below_threshold"]
    assert not any(w == "History Hall" and i == "h-1" for w, i, *_ in summary["below_threshold"])
    # asked again (a second tab, a reload): the same summary, not a second e-mail
    assert json.loads(call(f"{console}/api/imports", "POST", {"keys": keys}, token=token)[2])["emailed"] is False

    messages = inbox.read()
    [email] = [m for m in messages if m["attributes"].get("kind") == "import-summary"]
    assert email["subject"].startswith("Import done: 3 files") and "History Hall / h-2: 6" in email["message"]
    assert not [m for m in messages if "History Hall" in (m["message"] or "") and m is not email]  # the past: none

    assert call(f"{console}/api/imports", "POST", {"keys": ["../etc/passwd"]}, token=token)[0] == 400
    assert call(f"{console}/api/imports", "POST", {"keys": []}, token=token)[0] == 400
    assert call(f"{console}/api/imports", "POST", {"keys": ["inventory_files/" + "x" * 2000]}, token=token)[0] == 400
    missing = call(f"{console}/api/imports", "POST", {"keys": ["inventory_files/2020/01/01/x.csv"]}, token=token)
    assert missing[0] == 404
