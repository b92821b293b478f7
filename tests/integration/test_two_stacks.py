"""Two stacks of template.yaml with the default names (dev and prod) in one account and region."""

import pytest

from local_aws.stack import LocalStack


def test_two_stacks_with_default_names_deploy_side_by_side():
    # Given one account and region (moto's state is per process), and no names chosen
    with LocalStack(stack_name="pipeline-dev") as dev, LocalStack(stack_name="pipeline-prod") as prod:
        # Then both deploy, each with a bucket and a Glue database of its own
        for stack in (dev, prod):
            status = stack.client("cloudformation").describe_stacks(StackName=stack.stack_name)["Stacks"][0]
            assert status["StackStatus"] == "CREATE_COMPLETE"
        buckets = {stack.outputs["DataBucketName"] for stack in (dev, prod)}
        databases = {stack.outputs["GlueDatabaseName"] for stack in (dev, prod)}
        assert len(buckets) == len(databases) == 2
        assert all(b.startswith("stock-pipeline-123456789012-eu-central-1-") and len(b) <= 63 for b in buckets)
        assert all(d.startswith("stock_pipeline_") for d in databases)
        glue = dev.client("glue")
        assert {d["Name"] for d in glue.get_databases()["DatabaseList"]} >= databases


def test_a_bucket_name_with_dots_is_refused_before_anything_is_created():
    # Given a name S3 would take, but whose virtual-hosted HTTPS address no certificate covers
    stack = LocalStack(stack_name="pipeline-dotted", parameters={"DataBucketName": "stock.pipeline.data"})

    # When it is deployed, then CloudFormation's parameter check refuses it, saying why
    try:
        with pytest.raises(ValueError, match=r"'DataBucketName' failed to satisfy constraint: .*without dots"):
            stack.start()
        assert "pipeline-dotted" not in {
            s["StackName"] for s in stack.client("cloudformation").list_stacks()["StackSummaries"]
        }
    finally:
        stack.stop()
