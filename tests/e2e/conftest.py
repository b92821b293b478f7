import pytest

from local_aws.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack():
    """The local stack as `make up` runs it: moto server on 127.0.0.1, the stack created from template.yaml."""
    with LocalStack(stack_name="stock-pipeline-e2e", function_environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        yield stack


@pytest.fixture(scope="module")
def inbox(local_stack, request):
    """What the restock topic sends, read from an SQS subscription (one per test module)."""
    return local_stack.inbox(
        local_stack.outputs["RestockTopicArn"],
        name="inbox-" + request.module.__name__.rsplit(".", 1)[-1][-30:].replace("_", "-"),
    )


def upload(stack, key, text):
    stack.client("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key=key, Body=text.encode())
