import itertools

import pytest

from local_aws.stack import LocalStack

# Every end-to-end test runs on a stack in eu-central-1 and again on one in us-east-1: the Regions where botocore's
# defaults differ most (SigV2 presigning, the global S3 endpoint, a bucket without a location constraint).
REGIONS = ["eu-central-1", "us-east-1"]


def pytest_configure(config):
    config.addinivalue_line("markers", "single_region: about speed or the local tooling, run in the first Region only")


_CREATED = itertools.count()


@pytest.fixture(scope="session", params=REGIONS)
def local_stack(request):
    """The local stack as `make up` runs it: moto server on 127.0.0.1, the stack created from template.yaml."""
    # a name of its own each time: under pytest-xdist a worker may come back to a Region it left (the stack it
    # stopped is still in its moto), and two stacks of one name would share the local stack's routing by name
    created = next(_CREATED)
    with LocalStack(
        stack_name="stock-pipeline-e2e" + (f"-{created}" if created else ""),
        region=request.param,
        # the console's users may turn two-factor sign-in on; the tests' files carry fixed days of this autumn,
        # uploaded as if they were live: a year of freshness e-mails their crossings (the 24-hour default, which
        # keeps an import's crossings from e-mailing, is tested in tests/integration/test_import.py)
        parameters={"ConsoleMfa": "OPTIONAL", "AlertFreshnessHours": "8760"},
        function_environment={"POWERTOOLS_LOG_LEVEL": "WARNING"},
    ) as stack:
        yield stack


def pytest_collection_modifyitems(config, items):
    """A single_region test runs on the first Region's stack only."""
    kept, dropped = [], []
    for item in items:
        region = getattr(getattr(item, "callspec", None), "params", {}).get("local_stack")
        (dropped if region not in (None, REGIONS[0]) and item.get_closest_marker("single_region") else kept).append(
            item
        )
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="module")
def inbox(local_stack, request):
    """What the restock topic sends, read from an SQS subscription (one per test module)."""
    return local_stack.inbox(
        local_stack.outputs["RestockTopicArn"],
        name="inbox-" + request.module.__name__.rsplit(".", 1)[-1][-30:].replace("_", "-"),
    )


def upload(stack, key, text):
    stack.client("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key=key, Body=text.encode())
