import pytest

from local_aws.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack():
    """The local stack as `make up` runs it: moto server on 127.0.0.1, the stack created from template.yaml."""
    with LocalStack(stack_name="stock-pipeline-e2e", function_environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        yield stack
