import json

import awswrangler as wr
import pytest

from local_aws.stack import LocalStack
from stock_pipeline.config import Settings
from stock_pipeline.handlers.ingest import build_dependencies


def pytest_generate_tests(metafunc):
    """A module that lists REGIONS runs all its tests on a stack in each (the console's and the reports' modules:
    presigning and signing differ by Region)."""
    regions = getattr(metafunc.module, "REGIONS", None)
    if regions and "region" in metafunc.fixturenames:
        metafunc.parametrize("region", regions, indirect=True, scope="module")


@pytest.fixture(scope="module")
def region(request):
    return getattr(request, "param", "eu-central-1")


@pytest.fixture(scope="module")
def stack(request, region):
    """The stack of template.yaml on a moto server: tables, buckets, queues and streams exactly as deployed.

    (moto's in-process mock does not route DynamoDB Streams calls, so the server is used here too.) Each test
    module gets a stack of its own, with its own names, in the one moto of this process.
    """
    name = "it-" + request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")[:30]
    name += "" if region == "eu-central-1" else "-" + "".join(p[:2] for p in region.split("-"))
    parameters = {"DataBucketName": f"{name}-data", "GlueDatabaseName": name.replace("-", "_")}
    parameters.update(getattr(request.module, "STACK_PARAMETERS", {}))  # a module may deploy another variant
    environment = {"POWERTOOLS_LOG_LEVEL": "WARNING", **getattr(request.module, "FUNCTION_ENVIRONMENT", {})}
    with LocalStack(stack_name=name, region=region, parameters=parameters, function_environment=environment) as stack:
        wr.config.s3_endpoint_url = stack.endpoint  # the tests' own reads of the lake
        yield stack
        wr.config.reset("s3_endpoint_url")


@pytest.fixture(scope="module")
def deps(stack):
    """The ingest function's real adapters, configured by the Environment the template gives it."""
    settings = Settings.from_env(stack.functions["IngestFunction"].environment)
    return build_dependencies(settings, stack.session_of("IngestFunction"))


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


@pytest.fixture(scope="module")
def console(stack):
    """The web console's base URL on the local stack."""
    return stack.outputs["ConsoleUrl"]


@pytest.fixture(scope="module")
def token(stack, console):
    """An access token of the stack's console user, as the page gets it from its sign-in route."""
    from tests.integration.test_console import call

    status, _, body = call(f"{console}/api/session", "POST", stack.console_credentials)
    assert status == 200
    return json.loads(body)["accessToken"]
