"""Through the public entry points of the local stack: Firehose PutRecordBatch and S3 uploads."""

import datetime
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote_plus

import awswrangler as wr
import boto3
import pytest
import requests

from loadgen.kdg import render_records

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


def put_records(stack, records):
    response = stack.client("firehose").put_record_batch(
        DeliveryStreamName=stack.outputs["StockUpdatesStreamName"], Records=[{"Data": r.encode()} for r in records]
    )
    assert response["FailedPutCount"] == 0


def query_retailer(stack, retailer, account):
    items = stack.client("dynamodb").query(
        TableName=stack.outputs["StockTableName"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"RET#{retailer}#ACC#{account}"}},
    )["Items"]
    return {item["SK"]["S"]: int(item["quantity"]["N"]) for item in items}


def read_lake(stack, path):
    wr.config.s3_endpoint_url = stack.endpoint
    session = boto3.Session(region_name=stack.region, aws_access_key_id="testing", aws_secret_access_key="testing")
    return wr.s3.read_parquet(
        f"s3://{stack.outputs['DataBucketName']}/curated/stock_latest/{path}", dataset=True, boto3_session=session
    )


def test_kdg_records_through_firehose_land_in_dynamodb_and_the_lake(local_stack):
    # Given KDG-rendered records for one retailer/account, and one record of the same article that is older
    records = [
        r.replace('"retailerId": "retailer-', '"retailerId": "e2e-retailer-') for r in render_records(50, seed=11)
    ]
    parsed = [json.loads(r) for r in records]
    target = parsed[0]
    retailer, account = target["retailerId"], target["accountId"]

    # When they go through Firehose and the pipeline drains
    put_records(local_stack, records)
    local_stack.drain()

    # Then DynamoDB holds the latest stock per article and the lake holds the same rows
    expected = {
        f"ART#{r['articleId']}#CH#{r['channelId']}": r["quantity"]
        for r in parsed
        if (r["retailerId"], r["accountId"]) == (retailer, account)
    }
    assert query_retailer(local_stack, retailer, account) == expected
    lake = read_lake(local_stack, "")
    mine = lake[(lake["retailer_id"] == retailer) & (lake["account_id"] == account)]
    assert sorted(mine["quantity"].tolist()) == sorted(expected.values())
    delivered = [k for k in local_stack.firehose.delivered if k.startswith("raw/stock-updates/")]
    assert delivered
    assert all(k.endswith(".gz") for k in delivered)
    # one lake file per Firehose object, under the day of its hourly prefix
    days = {"-".join(k.split("/")[2:5]) for k in delivered}
    assert set(mine["dt"].astype(str)) <= days


def test_an_older_delivery_after_a_newer_one_does_not_overwrite(local_stack):
    newer = {
        "accountId": 1,
        "retailerId": "e2e-order",
        "channelId": 1,
        "productId": "p",
        "articleId": 1,
        "articleNumber": 1,
        "lastUpdated": "2026-11-23T12:00:00.000+00:00",
        "quantity": 20,
    }
    older = {**newer, "lastUpdated": "2026-11-23T11:00:00.000+00:00", "quantity": 10}

    put_records(local_stack, [json.dumps(newer)])
    local_stack.drain()
    put_records(local_stack, [json.dumps(older)])
    local_stack.drain()

    assert query_retailer(local_stack, "e2e-order", 1) == {"ART#1#CH#1": 20}


def test_an_object_aws_will_not_serve_ends_in_the_dead_letter_queue_after_the_configured_retries(local_stack):
    # an archived object: GetObject answers InvalidObjectState on every attempt (unreadable content, by contrast,
    # gets a FAILED notice at once: retrying cannot fix it)
    s3, sqs = local_stack.client("s3"), local_stack.client("sqs")
    key = "raw/stock-updates/2026/11/23/12/archived.gz"
    s3.put_object(
        Bucket=local_stack.outputs["DataBucketName"], Key=key, Body=gzip.compress(b"{}\n"), StorageClass="GLACIER"
    )

    local_stack.drain()

    dlq = local_stack.outputs["IngestDeadLetterQueueUrl"]
    messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert any(unquote_plus(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"]) == key for m in messages)
    [poller] = [p for p in local_stack.pollers if hasattr(p, "failed_messages")]  # the queue's, not the stream's
    assert poller.failed_messages >= 5  # maxReceiveCount in template.yaml


def test_every_resource_of_the_translated_template_exists_locally_or_is_explained(local_stack):
    resources = local_stack.cfn_template["Resources"]
    listed = {item.logical_id: item for item in local_stack.inventory}
    active = {lid for lid, r in resources.items() if "Condition" not in r or lid in listed}
    assert set(listed) == active
    for item in listed.values():
        assert item.how in {"cloudformation", "local", "not emulated"}
        if item.how == "not emulated":
            assert item.note, f"{item.logical_id} is not emulated and says not why"
        else:
            assert exists(local_stack, item), f"{item.logical_id} ({item.type}) is missing locally"


def exists(stack, item):
    c, pid = stack.client, item.physical_id
    checks = {
        "AWS::S3::Bucket": lambda: c("s3").head_bucket(Bucket=pid),
        "AWS::DynamoDB::Table": lambda: c("dynamodb").describe_table(TableName=pid),
        "AWS::SQS::Queue": lambda: c("sqs").get_queue_attributes(QueueUrl=pid),
        "AWS::SNS::Topic": lambda: c("sns").get_topic_attributes(TopicArn=pid),
        # (moto's DescribeKey fails on keys its CloudFormation created; ListKeys answers)
        "AWS::KMS::Key": lambda: any(k["KeyId"] == pid for k in c("kms").list_keys()["Keys"]),
        "AWS::KMS::Alias": lambda: next(a for a in c("kms").list_aliases()["Aliases"] if a["AliasName"] == pid),
        "AWS::IAM::Role": lambda: c("iam").get_role(RoleName=pid),
        "AWS::Lambda::Function": lambda: c("lambda").get_function(FunctionName=pid),
        "AWS::Lambda::EventSourceMapping": lambda: c("lambda").get_event_source_mapping(UUID=pid),
        "AWS::Logs::LogGroup": lambda: next(
            g for g in c("logs").describe_log_groups(logGroupNamePrefix=pid)["logGroups"]
        ),
        "AWS::Logs::LogStream": lambda: True,
        "AWS::KinesisFirehose::DeliveryStream": lambda: c("firehose").describe_delivery_stream(DeliveryStreamName=pid),
        "AWS::Glue::Database": lambda: c("glue").get_database(Name=pid),
        "AWS::Glue::Table": lambda: c("glue").get_table(DatabaseName=stack.outputs["GlueDatabaseName"], Name=pid),
        "AWS::Athena::WorkGroup": lambda: c("athena").get_work_group(WorkGroup=pid),
        "AWS::Athena::NamedQuery": lambda: c("athena").get_named_query(NamedQueryId=pid),
        "AWS::S3::BucketPolicy": lambda: True,
        "AWS::SQS::QueuePolicy": lambda: True,
        "AWS::SNS::TopicPolicy": lambda: True,
        "AWS::StepFunctions::StateMachine": lambda: c("stepfunctions").describe_state_machine(stateMachineArn=pid),
        "AWS::CloudWatch::Alarm": lambda: c("cloudwatch").describe_alarms(AlarmNames=[pid])["MetricAlarms"][0],
        "AWS::Cognito::UserPool": lambda: c("cognito-idp").describe_user_pool(UserPoolId=pid),
        "AWS::Cognito::UserPoolClient": lambda: c("cognito-idp").describe_user_pool_client(
            UserPoolId=stack.outputs["ConsoleUserPoolId"], ClientId=pid
        ),
        "AWS::CloudWatch::Dashboard": lambda: json.loads(
            c("cloudwatch").get_dashboard(DashboardName=pid)["DashboardBody"]
        ),
        "AWS::ApiGatewayV2::Api": lambda: c("apigatewayv2").get_api(ApiId=pid),
        "AWS::Scheduler::Schedule": lambda: c("scheduler").get_schedule(Name=pid),
        "AWS::SSM::Parameter": lambda: c("ssm").get_parameter(Name=pid)["Parameter"]["Value"],
        "AWS::ApiGatewayV2::Stage": lambda: any(
            stage["StageName"] == pid
            for api in c("apigatewayv2").get_apis()["Items"]
            for stage in c("apigatewayv2").get_stages(ApiId=api["ApiId"])["Items"]
        ),
        # moto keeps a permission as a statement of the function's policy, without an id of its own
        "AWS::Lambda::Permission": lambda: permission_granted(stack, item.logical_id),
    }
    probe = checks.get(item.type)
    assert probe is not None, f"no existence probe for {item.type}"
    return bool(probe())


def test_bucket_notifications_and_firehose_settings_come_from_the_template(local_stack):
    config = local_stack.client("s3").get_bucket_notification_configuration(
        Bucket=local_stack.outputs["DataBucketName"]
    )
    queue_name = local_stack.outputs["IngestQueueUrl"].rsplit("/", 1)[-1]
    routes = {
        tuple(rule["Value"] for rule in q["Filter"]["Key"]["FilterRules"])
        for q in config["QueueConfigurations"]
        if q["QueueArn"].endswith(queue_name)
    }
    # prefixes only: the names are checked by the function, in any letter case
    assert routes == {
        ("raw/stock-updates/",),
        ("inventory_files/",),
        ("restock_thresholds/",),
        ("supplier_feeds/",),
        ("reference/product/",),
        ("reference/store/",),
        ("stocktakes/",),
    }
    stream = local_stack.client("firehose").describe_delivery_stream(
        DeliveryStreamName=local_stack.outputs["StockUpdatesStreamName"]
    )
    destination = stream["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["Prefix"].startswith("raw/stock-updates/!{timestamp:yyyy}")


def test_the_notebook_runs_against_the_local_stack(local_stack, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    # Given every dataset the notebook shows: stock updates (one of them broken), stock files, a supplier feed
    from loadgen.files import inventory_file, inventory_key, thresholds_file, thresholds_key
    from loadgen.workbooks import feed_key, product_table_csv, supplier_feed

    put_records(local_stack, [*render_records(30, seed=5), '{"broken": '])
    now = datetime.datetime.now(datetime.UTC)
    s3, bucket = local_stack.client("s3"), local_stack.outputs["DataBucketName"]
    s3.put_object(Bucket=bucket, Key=inventory_key(now), Body=inventory_file(40, start=now, seed=3).encode())
    s3.put_object(Bucket=bucket, Key=thresholds_key(now), Body=thresholds_file({"a123v5": 20}).encode())
    s3.put_object(Bucket=bucket, Key="reference/product/notebook.csv", Body=product_table_csv(30))
    local_stack.drain()
    s3.put_object(Bucket=bucket, Key=feed_key("acme", now.date()), Body=supplier_feed("acme", 20, seed=4))
    local_stack.drain()
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(local_stack.describe()))
    notebook = nbformat.read(ROOT / "notebook" / "demo-stock-update-awswrangler.ipynb", as_version=4)
    os.environ["LOCAL_STACK_FILE"] = str(state)
    try:
        NotebookClient(
            notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebook")}}
        ).execute()
    finally:
        os.environ.pop("LOCAL_STACK_FILE")
    outputs = "".join(
        o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    )
    assert "local stack - bucket" in outputs
    assert "Glue table exists: True" in outputs
    plots = [
        cell.source.splitlines()[0]
        for cell in notebook.cells
        if cell.cell_type == "code"
        and any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in cell.outputs)
    ]
    # latest stock, levels, movements, thresholds, supplier stock, rejected rows; then the five of `make report`
    assert len(plots) == 11, plots
    assert "nothing rejected yet" not in outputs and "no supplier feeds yet" not in outputs


def test_make_up_serves_until_ctrl_c_and_describes_itself(tmp_path):
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "up", "--state-file", str(state), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        for line in process.stdout:  # blocks until the stack reports itself up
            if line.startswith("Local stack") and " is up at " in line:
                break
        described = json.loads(state.read_text())
        assert set(described["outputs"]) >= {
            "DataBucketName",
            "StockTableName",
            "RestockTopicArn",
            "StockUpdatesStreamName",
            "IngestQueueUrl",
        }
        s3 = boto3.client(
            "s3", endpoint_url=described["endpoint"], region_name=described["region"], **described["credentials"]
        )
        assert s3.head_bucket(Bucket=described["outputs"]["DataBucketName"])
        printed = "".join(next(process.stdout) for _ in range(len(described["outputs"]) + 1))
        user = described["consoleUser"]
        assert f"Web console: {described['outputs']['ConsoleUrl']}  user {user['username']}  password" in printed
        signed_in = requests.post(f"{described['outputs']['ConsoleUrl']}/api/session", json=user, timeout=30)
        assert signed_in.status_code == 200 and signed_in.json()["accessToken"]
        process.send_signal(2)  # Ctrl-C
        assert process.wait(timeout=60) == 0
        assert not state.exists()
    finally:
        if process.poll() is None:
            process.kill()


def test_make_demo_prints_the_summary(tmp_path):
    # `make demo` runs this module; a process of its own, like the command (moto's state is per process)
    report = tmp_path / "report.html"
    completed = subprocess.run(
        [sys.executable, "-m", "local_aws.demo", "--records", "40", "--seed", "3", "--report", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    block = completed.stdout.split("Summary", 1)[1].split("Latest stock", 1)[0]
    summary = dict(re.findall(r"^  (\S.*?)\s{2,}(\S+)$", block, re.MULTILINE))
    assert summary["records sent"] == "43"
    assert summary["records rejected"] == "3"
    assert summary["DynamoDB items"] == summary["distinct articles"] == summary["Parquet rows"]
    assert "Latest stock" in completed.stdout
    assert "Stock levels per warehouse" in completed.stdout
    emails = re.search(r"Restock e-mails \((\d+),", completed.stdout)
    assert emails and int(emails.group(1)) > 0
    assert "Caused by file: " in completed.stdout
    assert "re-evaluation runs of the Step Functions workflow" in completed.stdout
    assert "SUCCEEDED" in completed.stdout
    assert "Feed status notices (6, one per uploaded file)" in completed.stdout
    assert "[FAILED] Supplier feed FAILED: globex" in completed.stdout
    history = completed.stdout.split("History of ", 1)[1].split("\n\n", 1)[0].splitlines()
    assert "old_value" in history[1] and len(history) >= 4  # the title, the header, at least two changes
    assert report.read_text().count('<img class="plot"') == 5
    assert re.search(
        r"Nightly forecast \(the 04:30 UTC schedule, fired now\): SUCCEEDED, [1-9]\d* of", completed.stdout
    )
    assert "warehouse,item_id,item_name,quantity,daily_sales,days_of_cover" in completed.stdout
    assert "6 eBay tables (store x supplier) generated" in completed.stdout
    assert re.search(
        r"Web console .*: http://127\.0\.0\.1:\d+/console, user console-user, password \S+", completed.stdout
    )
    revise = completed.stdout.split("Its revise file for eBay's bulk upload", 1)[1].splitlines()
    assert revise[2].strip() == "Action,ItemID,Quantity" and revise[3].strip().startswith("Revise,")
    assert "Supplier stock of acme (DynamoDB" in completed.stdout
    validation = re.search(r"Nightly validation \(.*?\): SUCCEEDED, (\d+) files, (\d+) transactions", completed.stdout)
    assert validation and int(validation.group(1)) == len(re.findall(r"_inventory\.csv", uploaded_line(completed)))
    assert "  Subject: Stock validation " in completed.stdout


def uploaded_line(completed):
    return next(line for line in completed.stdout.splitlines() if line.startswith("Uploaded "))


def permission_granted(stack, logical_id):
    props = stack.cfn_template["Resources"][logical_id]["Properties"]
    function = next(f for f in stack.functions.values() if f.logical_id == props["FunctionName"]["Ref"])
    policy = json.loads(stack.client("lambda").get_policy(FunctionName=function.name)["Policy"])
    return any(statement["Principal"]["Service"] == props["Principal"] for statement in policy["Statement"])
