import pytest
from moto import mock_aws

from local_aws.stack import LocalStack
from stock_pipeline.config import Settings
from stock_pipeline.handlers.ingest import build_dependencies


@pytest.fixture(scope="module")
def stack():
    """The stack of template.yaml in in-process moto: tables, buckets and queues exactly as deployed."""
    with mock_aws():
        yield LocalStack(server=False).start()


@pytest.fixture(scope="module")
def deps(stack):
    """The ingest function's real adapters, configured by the Environment the template gives it."""
    settings = Settings.from_env(stack.functions["IngestFunction"].environment)
    return build_dependencies(settings, stack.session)


@pytest.fixture(scope="module")
def bucket(stack):
    return stack.outputs["DataBucketName"]


@pytest.fixture(scope="module")
def s3(stack):
    return stack.client("s3")


@pytest.fixture(scope="module")
def ddb(stack):
    return stack.client("dynamodb")


@pytest.fixture(scope="module")
def table_name(stack):
    return stack.outputs["StockTableName"]
