"""The template's provisioned-capacity variant (TableBillingMode=PROVISIONED), deployed from template.yaml."""

import gzip
import json

from stock_pipeline.handlers.ingest import handle
from tests.conftest import sqs_event_for

STACK_PARAMETERS = {
    "TableBillingMode": "PROVISIONED",
    "TableWriteCapacityMin": "7",
    "TableWriteCapacityMax": "900",
    "TableReadCapacityMin": "3",
    "TableReadCapacityMax": "300",
    "TableTargetUtilization": "65",
}


def test_the_table_and_its_index_start_at_the_minimum_capacity(ddb, table_name):
    table = ddb.describe_table(TableName=table_name)["Table"]

    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    indexes = [i["ProvisionedThroughput"] for i in table["GlobalSecondaryIndexes"]]
    assert len(indexes) == 4
    for throughput in (table["ProvisionedThroughput"], *indexes):
        assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (3, 7)


def test_auto_scaling_tracks_the_target_utilisation_on_table_and_every_index_reads_and_writes(stack, table_name):
    scaling = stack.client("application-autoscaling")

    targets = scaling.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"]
    policies = scaling.describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"]

    mine = {(t["ResourceId"], t["ScalableDimension"]): (t["MinCapacity"], t["MaxCapacity"]) for t in targets}
    assert mine == {
        (f"table/{table_name}", "dynamodb:table:WriteCapacityUnits"): (7, 900),
        (f"table/{table_name}", "dynamodb:table:ReadCapacityUnits"): (3, 300),
        (f"table/{table_name}/index/GSI1", "dynamodb:index:WriteCapacityUnits"): (7, 900),
        (f"table/{table_name}/index/GSI1", "dynamodb:index:ReadCapacityUnits"): (3, 300),
        (f"table/{table_name}/index/GSI2", "dynamodb:index:WriteCapacityUnits"): (7, 900),
        (f"table/{table_name}/index/GSI2", "dynamodb:index:ReadCapacityUnits"): (3, 300),
        (f"table/{table_name}/index/GSI3", "dynamodb:index:WriteCapacityUnits"): (7, 900),
        (f"table/{table_name}/index/GSI3", "dynamodb:index:ReadCapacityUnits"): (3, 300),
        (f"table/{table_name}/index/GSI4", "dynamodb:index:WriteCapacityUnits"): (7, 900),
        (f"table/{table_name}/index/GSI4", "dynamodb:index:ReadCapacityUnits"): (3, 300),
    }
    tracked = {
        (
            p["ResourceId"],
            p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"],
        ): p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in policies
    }
    assert tracked == {
        (f"table/{table_name}", "DynamoDBWriteCapacityUtilization"): 65.0,
        (f"table/{table_name}", "DynamoDBReadCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI1", "DynamoDBWriteCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI1", "DynamoDBReadCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI2", "DynamoDBWriteCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI2", "DynamoDBReadCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI3", "DynamoDBWriteCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI3", "DynamoDBReadCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI4", "DynamoDBWriteCapacityUtilization"): 65.0,
        (f"table/{table_name}/index/GSI4", "DynamoDBReadCapacityUtilization"): 65.0,
    }
    created = {i.logical_id: i.how for i in stack.inventory if i.type.startswith("AWS::ApplicationAutoScaling::")}
    assert len(created) == 20
    assert set(created.values()) == {"local"}


def test_stock_updates_land_the_same_way(deps, s3, ddb, bucket, table_name):
    record = {
        "accountId": 3,
        "retailerId": "r-prov",
        "channelId": 1,
        "productId": "p",
        "articleId": 9,
        "articleNumber": 9,
        "lastUpdated": "2026-11-23T10:00:00Z",
        "quantity": 12,
    }
    key = "raw/stock-updates/2026/11/23/10/provisioned.gz"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps(record).encode()))["ETag"].strip('"')

    assert handle(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}
    item = ddb.get_item(TableName=table_name, Key={"PK": {"S": "RET#r-prov#ACC#3"}, "SK": {"S": "ART#9#CH#1"}})
    assert item["Item"]["quantity"] == {"N": "12"}
