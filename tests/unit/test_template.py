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
    # Powertools everywhere; the AWS SDK for pandas layer where it is used (test_function_imports.py)
    assert function_globals["Layers"] == [{"Ref": "PowertoolsLayerArn"}]


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
    event = resources["IngestQueueMapping"]["Properties"]
    assert event["EventSourceArn"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["VisibilityTimeout"] >= 6 * load_template()["Globals"]["Function"]["Timeout"]
    # the function knows the last receive, to record why the object is being parked
    variables = resources["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert int(variables["MAX_RECEIVES"]) == queue["RedrivePolicy"]["maxReceiveCount"]


def test_the_table_streams_both_images_with_recovery_and_kms(resources):
    table = resources["StockTable"]["Properties"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEType"] == "KMS"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["GSI1", "GSI2", "GSI3", "GSI4"]
    # report 2's index: sparse (only warehouse levels carry GSI2PK), sorted by the quantity itself
    gsi2 = table["GlobalSecondaryIndexes"][1]
    assert [k["AttributeName"] for k in gsi2["KeySchema"]] == ["GSI2PK", "quantity"]
    assert {"AttributeName": "quantity", "AttributeType": "N"} in table["AttributeDefinitions"]
    # the stock-outs report's index: sparse (only levels with a sales rate carry GSI3PK), with what cover needs
    gsi3 = table["GlobalSecondaryIndexes"][2]
    assert [k["AttributeName"] for k in gsi3["KeySchema"]] == ["GSI3PK", "itemId"]
    assert {"quantity", "dailySales"} <= set(gsi3["Projection"]["NonKeyAttributes"])
    assert "dailySales" in gsi2["Projection"]["NonKeyAttributes"]  # report 2's rows carry the cover too


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
    # 8 curated (with the history, store, ebay, daily_rates and the reconciliation's differences), 3 raw, and the
    # table's exports: their partitions are registered by each run (an export's folder holds an id no projection
    # can template)
    assert len(partitioned) == 12
    partitioned = [t for t in partitioned if t["TableInput"]["Name"] != "stock_table_export"]
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
    assert all(i["ProvisionedThroughput"]["Fn::If"][0] == "IsProvisioned" for i in table["GlobalSecondaryIndexes"])
    scaling = {lid: r for lid, r in resources.items() if r["Type"].startswith("AWS::ApplicationAutoScaling::")}
    assert len(scaling) == 20  # read and write, target and policy, for the table and each index
    targets = {r["Properties"]["ResourceId"]["Fn::Sub"] for r in scaling.values() if "ResourceId" in r["Properties"]}
    assert targets == {
        "table/${StockTable}",
        "table/${StockTable}/index/GSI1",
        "table/${StockTable}/index/GSI2",
        "table/${StockTable}/index/GSI3",
        "table/${StockTable}/index/GSI4",
    }
    assert all(r["Condition"] == "IsProvisioned" for r in scaling.values())
    dimensions = {
        r["Properties"]["ScalableDimension"] for r in scaling.values() if "ScalableDimension" in r["Properties"]
    }
    assert dimensions == {f"dynamodb:{t}:{k}CapacityUnits" for t in ("table", "index") for k in ("Read", "Write")}


# ------------------------------------------------------------------------------------------- nightly validation


def test_the_validation_is_scheduled_at_three_utc_sharp_with_retries_and_a_dead_letter_queue(resources):
    schedule = resources["ValidationSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == {"Ref": "ValidationStateMachine"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ValidationSchedulerRole", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["ValidationScheduleDeadLetterQueue", "Arn"]}
    assert '"trigger": "schedule"' in target["Input"]
    # its own role: trusted by the scheduler only, allowed to start this machine and to park failed starts
    role = resources["ValidationSchedulerRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    granted = {(a if isinstance(a, str) else tuple(a), str(s["Resource"])) for s in statements for a in [s["Action"]]}
    assert ("states:StartExecution", str({"Ref": "ValidationStateMachine"})) in granted
    assert ("sqs:SendMessage", str({"Fn::GetAtt": ["ValidationScheduleDeadLetterQueue", "Arn"]})) in granted
    # the queue is encrypted with the data key, so sending needs the key too
    assert any(s["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]} for s in statements)


def test_the_validation_is_a_standard_workflow_looping_over_a_bounded_lambda_and_failures_alarm(resources):
    import json

    machine = resources["ValidationStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD"
    definition = json.loads((Path(__file__).parents[2] / machine["DefinitionUri"]).read_text())
    states = definition["States"]
    assert states["CheckTransactions"]["Next"] == "AllChecked"
    assert states["AllChecked"]["Default"] == "CheckTransactions"
    assert states["AllChecked"]["Choices"][0]["Next"] == "FinishRun"
    # a failed invocation is retried with the same cursor (its Parameters read the cursor from the state)
    assert states["CheckTransactions"]["Parameters"]["Payload"]["cursor.$"] == "$.cursor"
    assert states["CheckTransactions"]["Retry"][-1]["ErrorEquals"] == ["States.ALL"]
    for task in ("StartRun", "CheckTransactions", "FinishRun"):
        assert states[task]["Catch"][0]["Next"] == "RecordFailure"
    assert states["RecordFailure"]["Next"] == states["RecordFailure"]["Catch"][0]["Next"] == "RunFailed"
    assert states["RunFailed"]["Type"] == "Fail"
    function = resources["ValidationFunction"]["Properties"]
    budget = float(function["Environment"]["Variables"]["VALIDATION_BUDGET_SECONDS"])
    assert budget + 30 <= function["Timeout"] <= 900
    assert function["Environment"]["Variables"]["VALIDATION_CHECK_SECONDS"] == {"Ref": "ValidationCheckSeconds"}
    assert load_template()["Parameters"]["ValidationCheckSeconds"]["Default"] == 10
    alarm = resources["ValidationFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["Dimensions"][0]["Value"] == {"Ref": "ValidationStateMachine"}
    assert alarm["AlarmActions"] == [{"Ref": "OperationsTopic"}]
    assert resources["ValidationScheduleDeadLetterAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "OperationsTopic"}]


def test_the_validation_function_may_make_exactly_the_calls_its_code_makes(resources):
    # moto does not enforce IAM: compare the code's AWS calls with the statements the function is given
    import re

    src = Path(__file__).parents[2] / "src" / "stock_pipeline"
    table_code = (src / "adapters" / "validation_table.py").read_text()
    operations = set(re.findall(r"self\._ddb\.(\w+)\(", table_code)) - {"get_paginator"}
    operations |= set(re.findall(r'get_paginator\("(\w+)"\)', table_code))
    called = {"dynamodb:" + "".join(part.title() for part in op.split("_")) for op in operations}
    statements = {s["Sid"]: s for s in resources["ValidationFunction"]["Properties"]["Policies"][0]["Statement"]}
    table_statement = statements["RunStateLevelsLedgerAndRegister"]
    assert table_statement["Resource"] == {"Fn::GetAtt": ["StockTable", "Arn"]}
    assert set(table_statement["Action"]) == called
    # S3: it reads inventory files and its own run files, writes run files and reports, lists run files only
    store_calls = set(re.findall(r"self\._s3\.(\w+)\(", (src / "adapters" / "s3.py").read_text()))
    assert {"get_object", "put_object"} <= store_calls
    reads = statements["ReadInventoryFilesAndRunFiles"]["Resource"]
    writes = statements["WriteRunFilesAndReports"]["Resource"]
    assert [r["Fn::Sub"].split("/", 1)[1] for r in reads] == ["inventory_files/*", "workflow/validation/*"]
    assert [w["Fn::Sub"].split("/", 1)[1] for w in writes] == ["workflow/validation/*", "reports/validation/*"]
    assert statements["ListRunFiles"]["Resource"] == {"Fn::GetAtt": ["DataBucket", "Arn"]}
    assert statements["CompletionEmail"] == {
        "Sid": "CompletionEmail",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": {"Ref": "ValidationTopic"},
    }


# ------------------------------------------------------------------------------------------- deploying safely


def test_a_first_deploy_that_rolls_back_leaves_no_bucket_key_or_table_behind(resources):
    for logical_id in ("DataBucket", "DataKey", "StockTable"):
        assert resources[logical_id]["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] == "Retain", logical_id


def test_default_names_carry_the_stack_id_so_two_stacks_fit_in_one_account_and_region(resources):
    import json

    stack_id_part = {
        "Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]
    }
    bucket_name = resources["DataBucket"]["Properties"]["BucketName"]["Fn::If"]
    assert bucket_name[0] == "HasBucketName" and bucket_name[2]["Fn::Sub"][1] == {"Id": stack_id_part}
    database_name = resources["LakeDatabase"]["Properties"]["DatabaseInput"]["Name"]["Fn::If"]
    assert database_name[0] == "HasGlueDatabaseName" and database_name[2]["Fn::Sub"][1] == {"Id": stack_id_part}
    # the queue policy names the bucket the same way (a reference to the bucket would be a circular dependency)
    assert json.dumps(bucket_name) in json.dumps(resources["IngestQueuePolicy"])
    parameters = load_template()["Parameters"]
    assert parameters["DataBucketName"]["Default"] == parameters["GlueDatabaseName"]["Default"] == ""


def test_no_concurrency_is_reserved_unless_asked_and_the_queue_mapping_still_bounds_it(resources):
    function = resources["IngestFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "IngestReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert load_template()["Parameters"]["IngestReservedConcurrency"]["Default"] == 0
    assert resources["IngestQueueMapping"]["Properties"]["ScalingConfig"]["MaximumConcurrency"] == 20


# ---------------------------------------------------------------------------- no input lost without a word


def test_the_bucket_announces_every_object_under_the_input_prefixes_whatever_its_letter_case(resources):
    # S3 filters are case-sensitive: a suffix rule would drop `.CSV` and `.XLSX` before the function could see them
    configurations = resources["DataBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    rules = [c["Filter"]["S3Key"]["Rules"] for c in configurations]
    assert all(len(r) == 1 and r[0]["Name"] == "prefix" for r in rules)
    assert sorted(r[0]["Value"] for r in rules) == sorted(
        [
            "raw/stock-updates/",
            "inventory_files/",
            "restock_thresholds/",
            "supplier_feeds/",
            "reference/product/",
            "reference/store/",
            "stocktakes/",
        ]
    )


def test_files_not_processed_and_undeliverable_notifications_alarm(resources):
    unprocessed = resources["UnprocessedFilesAlarm"]["Properties"]
    named = {
        m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]
        for m in unprocessed["Metrics"]
        if "MetricStat" in m
    }
    assert set(named) == {"ObjectsUnrouted", "ObjectsGone", "ObjectsUnreadable", "ObjectsTooLarge"}
    # the metrics the ingest handler publishes, under the namespace and service dimension Powertools gives them
    source = (Path(__file__).parents[2] / "src" / "stock_pipeline" / "handlers" / "ingest.py").read_text()
    assert all(f'"{name}"' in source for name in named)
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    for metric in named.values():
        assert metric["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
        assert metric["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    assert unprocessed["AlarmActions"] == [{"Ref": "OperationsTopic"}]
    dlq = resources["NotificationDeadLetterAlarm"]["Properties"]
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["NotificationDeadLetterQueue", "QueueName"]}


def test_every_queue_and_topic_refuses_requests_without_tls(resources):
    def denies_plain_http(statement):
        return statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    for kind, policy_kind, members in (
        ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "Queues"),
        ("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "Topics"),
    ):
        covered = {
            ref["Ref"]
            for policy in of_type(resources, policy_kind).values()
            if any(denies_plain_http(s) for s in policy["PolicyDocument"]["Statement"])
            for ref in policy[members]
        }
        assert covered == set(of_type(resources, kind)), kind


def test_the_keys_service_statement_is_scoped_to_this_stacks_bucket_topics_and_alarms(resources):
    statements = resources["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    [services] = [s for s in statements if "Service" in s["Principal"]]
    arns = services["Condition"]["ArnLike"]["aws:SourceArn"]
    assert arns[0]["Fn::Sub"][0] == "arn:${AWS::Partition}:s3:::${Name}"
    assert arns[1:] == [
        {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-*"},
        {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-*"},
    ]
    assert services["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_every_checkov_check_the_template_skips_is_named_and_justified_where_it_is_skipped(resources):
    skips = [
        (lid, skip)
        for lid, resource in resources.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "make lint runs checkov; its skips live next to the resources they concern"
    for lid, skip in skips:
        assert skip["id"].startswith("CKV_"), lid
        assert len(skip.get("comment", "")) > 40, f"{lid}: {skip['id']} skipped without a reason"


def test_powertools_is_pinned_to_the_version_the_tests_run_not_latest():
    default = load_template()["Parameters"]["PowertoolsLayerArn"]["Default"]
    requirements = (Path(__file__).parents[2] / "requirements.txt").read_text()
    tested = requirements.split("aws-lambda-powertools[tracer]==", 1)[1].split()[0]
    assert default == f"/aws/service/powertools/python/arm64/python3.12/{tested}"


def test_the_pandas_layer_parameter_takes_only_the_python312_arm64_build():
    import re

    pattern = re.compile(load_template()["Parameters"]["PandasLayerArn"]["AllowedPattern"])
    assert pattern.match("arn:aws:lambda:eu-central-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:26")
    for wrong in (
        "arn:aws:lambda:eu-central-1:336392948345:layer:AWSSDKPandas-Python312:26",  # x86_64
        "arn:aws:lambda:eu-central-1:336392948345:layer:AWSSDKPandas-Python311-Arm64:26",  # another runtime
        "arn:aws:lambda:eu-central-1:336392948345:layer:AWSSDKPandas-Python312-Arm64",  # no version
    ):
        assert not pattern.match(wrong), wrong


def test_console_data_routes_take_a_cognito_jwt_and_programs_keep_iam(resources):
    routes = {
        event["Properties"]["Path"]: event["Properties"].get("Auth", {}).get("Authorizer", "AWS_IAM")
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    public = {"/console", "/console/static/{file}", "/console/api/session"}
    assert {path for path, auth in routes.items() if auth == "NONE"} == public
    assert all(
        auth == "ConsoleJwt" for path, auth in routes.items() if path.startswith("/console/api/") and path not in public
    )
    assert all(auth == "AWS_IAM" for path, auth in routes.items() if not path.startswith("/console"))
    api = resources["ReportsApi"]["Properties"]["Auth"]
    assert api["DefaultAuthorizer"] == "AWS_IAM"
    jwt = api["Authorizers"]["ConsoleJwt"]["JwtConfiguration"]
    assert jwt["audience"] == [{"Ref": "ConsoleUserPoolClient"}] and "${ConsoleUserPool}" in jwt["issuer"]["Fn::Sub"]
    pool = resources["ConsoleUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # no self sign-up
    assert resources["ConsoleUserPoolClient"]["Properties"]["GenerateSecret"] is False
    uploads = next(
        s
        for s in resources["ConsoleFunction"]["Properties"]["Policies"][0]["Statement"]
        if s["Sid"] == "UploadsThroughPresignedPost"
    )
    assert all("curated" not in str(r) and "rejected" not in str(r) for r in uploads["Resource"])  # input prefixes only


def test_functions_whose_responses_hold_tokens_or_rows_keep_them_out_of_traces(resources):
    """Powertools records a handler's response in its X-Ray trace unless told not to: the console answers with
    Cognito tokens and sign-in sessions, the reports with stock rows."""
    for lid in ("ConsoleFunction", "ReportsFunction"):
        variables = resources[lid]["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", lid


def test_every_inline_policy_is_written_in_the_current_policy_language(resources):
    """Without Version a policy is read as 2008-10-17: no policy variables (parliament's NO_VERSION)."""
    for lid, props in of_type(resources, "AWS::Serverless::Function").items():
        assert all(p.get("Version") == "2012-10-17" for p in props["Policies"] if isinstance(p, dict)), lid
    for lid, props in of_type(resources, "AWS::Serverless::StateMachine").items():
        assert all(p.get("Version") == "2012-10-17" for p in props["Policies"] if isinstance(p, dict)), lid


def test_the_state_machines_name_no_partition():
    """arn:aws is one partition of three (aws-cn, aws-us-gov): the definitions take it from the template."""
    for path in (Path(__file__).parents[2] / "src" / "statemachines").glob("*.asl.json"):
        assert "arn:aws:" not in path.read_text(), path.name


def test_two_factor_sign_in_is_a_parameter_off_by_default_with_totp_when_on(resources):
    parameter = load_template()["Parameters"]["ConsoleMfa"]
    assert parameter["Default"] == "OFF" and parameter["AllowedValues"] == ["OFF", "OPTIONAL", "ON"]
    pool = resources["ConsoleUserPool"]["Properties"]
    assert pool["MfaConfiguration"] == {"Ref": "ConsoleMfa"}
    assert pool["EnabledMfas"] == {"Fn::If": ["HasConsoleMfa", ["SOFTWARE_TOKEN_MFA"], {"Ref": "AWS::NoValue"}]}
    assert resources["ConsoleFunction"]["Properties"]["Environment"]["Variables"]["CONSOLE_MFA"] == {
        "Ref": "ConsoleMfa"
    }


PANDAS_LAYER = "arn:aws:lambda:eu-central-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:26"


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("", True),  # the stack names it
        ("stock-pipeline-data", True),
        ("a1b", True),
        ("stock.pipeline.data", False),  # virtual-hosted HTTPS: S3's wildcard certificate covers one label
        ("Stock-Data", False),
        ("-stock", False),
        ("ab", False),
        ("a" * 64, False),
        ("xn--stock", False),
        ("sthree-stock", False),
        ("stock-s3alias", False),
        ("stock--ol-s3", False),
    ],
)
def test_the_bucket_name_parameter_takes_s3s_names_without_dots(name, taken):
    from local_aws.template import parameter_errors

    errors = parameter_errors(load_template(), {"DataBucketName": name, "PandasLayerArn": PANDAS_LAYER})
    assert (errors == []) is taken, errors


def test_each_parameter_default_satisfies_its_own_constraints():
    from local_aws.template import parameter_errors

    assert parameter_errors(load_template(), {"PandasLayerArn": PANDAS_LAYER}) == []


def test_a_parameter_without_a_default_must_be_given():
    from local_aws.template import parameter_errors

    assert parameter_errors(load_template(), {}) == ["Parameters: [PandasLayerArn] must have values"]
