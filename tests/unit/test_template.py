"""template.yaml promises what users deploy; these read it as CloudFormation does after the SAM transform."""

from pathlib import Path

import pytest

from local_aws.template import load_template


@pytest.fixture(scope="module")
def resources():
    return load_template()["Resources"]


def of_type(resources, rtype):
    return {lid: r["Properties"] for lid, r in resources.items() if r["Type"] == rtype}


def test_functions_run_python312_on_arm64_with_the_managed_layers():
    function_globals = load_template()["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Layers"] == [{"Ref": "PandasLayerArn"}, {"Ref": "PowertoolsLayerArn"}]


def test_firehose_writes_gzip_newline_delimited_records_under_raw_with_an_error_prefix(resources):
    [stream] = of_type(resources, "AWS::KinesisFirehose::DeliveryStream").values()
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert stream["DeliveryStreamType"] == "DirectPut"
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["Prefix"].startswith("raw/stock-updates/")
    assert "error-output-type" in destination["ErrorOutputPrefix"]
    [processor] = destination["ProcessingConfiguration"]["Processors"]
    assert processor["Type"] == "AppendDelimiterToRecord"


def test_the_ingest_queue_has_a_dlq_and_the_function_reports_partial_failures(resources):
    queue = resources["IngestQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    event = resources["IngestFunction"]["Properties"]["Events"]["IngestQueue"]["Properties"]
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["VisibilityTimeout"] >= 6 * load_template()["Globals"]["Function"]["Timeout"]


def test_the_table_streams_both_images_with_recovery_and_kms(resources):
    table = resources["StockTable"]["Properties"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEType"] == "KMS"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["GSI1", "GSI2"]
    # report 2's index: sparse (only warehouse levels carry GSI2PK), sorted by the quantity itself
    gsi2 = table["GlobalSecondaryIndexes"][1]
    assert [k["AttributeName"] for k in gsi2["KeySchema"]] == ["GSI2PK", "quantity"]
    assert {"AttributeName": "quantity", "AttributeType": "N"} in table["AttributeDefinitions"]


def test_the_bucket_is_private_versioned_kms_encrypted_and_tls_only(resources):
    bucket = resources["DataBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    [deny] = resources["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    assert any(r["Prefix"] == "raw/" for r in bucket["LifecycleConfiguration"]["Rules"])


def test_partitioned_glue_tables_use_partition_projection(resources):
    tables = of_type(resources, "AWS::Glue::Table").values()
    partitioned = [t for t in tables if t["TableInput"].get("PartitionKeys")]
    assert len(partitioned) == 6  # 3 curated, 3 raw
    stock_latest = next(t["TableInput"] for t in tables if t["TableInput"]["Name"] == "stock_latest")
    assert [k["Name"] for k in stock_latest["PartitionKeys"]] == ["dt"]
    assert stock_latest["Parameters"]["projection.dt.type"] == "date"
    for table in partitioned:
        assert table["TableInput"]["Parameters"]["projection.enabled"] == "true"


def test_supplier_stock_expires_after_a_month(resources):
    [bucket] = of_type(resources, "AWS::S3::Bucket").values()
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireSupplierStock"]["Prefix"] == "curated/supplier_stock/"
    assert rules["ExpireSupplierStock"]["ExpirationInDays"] == 31


def test_the_ingest_function_may_run_the_partiql_statements_its_writer_sends(resources):
    # moto does not enforce IAM: without these, BatchExecuteStatement fails per statement with AccessDenied in AWS
    import re

    source = (Path(__file__).parents[2] / "src" / "stock_pipeline" / "adapters" / "stock_table.py").read_text()
    kinds = set(re.findall(r'f?["\'](INSERT|UPDATE) (?:INTO )?"', source))
    statements = [
        s
        for policy in resources["IngestFunction"]["Properties"]["Policies"]
        if "Statement" in policy
        for s in policy["Statement"]
    ]
    granted = {a for s in statements for a in s["Action"] if s["Resource"] == {"Fn::GetAtt": ["StockTable", "Arn"]}}
    assert kinds == {"INSERT", "UPDATE"}
    assert {f"dynamodb:PartiQL{kind.title()}" for kind in kinds} <= granted


def test_on_demand_by_default_and_auto_scaling_only_for_provisioned(resources):
    parameters = load_template()["Parameters"]
    assert parameters["TableBillingMode"]["Default"] == "PAY_PER_REQUEST"
    table = resources["StockTable"]["Properties"]
    assert table["BillingMode"] == {"Ref": "TableBillingMode"}
    assert table["ProvisionedThroughput"]["Fn::If"][0] == "IsProvisioned"
    assert table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["Fn::If"][0] == "IsProvisioned"
    scaling = {lid: r for lid, r in resources.items() if r["Type"].startswith("AWS::ApplicationAutoScaling::")}
    assert len(scaling) == 8
    assert all(r["Condition"] == "IsProvisioned" for r in scaling.values())
    dimensions = {
        r["Properties"]["ScalableDimension"] for r in scaling.values() if "ScalableDimension" in r["Properties"]
    }
    assert dimensions == {f"dynamodb:{t}:{k}CapacityUnits" for t in ("table", "index") for k in ("Read", "Write")}
