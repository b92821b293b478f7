"""Property-based run of the console's API on the local stack, generated from docs/console-openapi.json
(schemathesis): whatever a signed-in browser sends, no 5xx, and every answer has a status code, media type and
shape the document declares; a body the document calls invalid is refused with a 4xx. Requests carry the console
user's access token, as the page's do, and pass the JWT authorizer and the console role's IAM on the local stack.
A stack of its own (this module's): the movements the run makes land in warehouses no other test reads."""

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

schema = schemathesis.openapi.from_path(Path(__file__).parents[2] / "docs" / "console-openapi.json")


@pytest.fixture(scope="module")
def api(console, token):
    return console.rsplit("/console", 1)[0], {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_answer_as_documented(case, api):
    base_url, headers = api
    # API Gateway answers a method without a route with 404, not 405; and the routes' rules go beyond what a
    # schema can say (a level must exist to be adjusted, a file's extension must fit its kind, a count at most
    # 30 days back): a schema-valid body may rightly get a 400, so positive data acceptance is not asked.
    excluded = [schemathesis.checks.unsupported_method, schemathesis.checks.positive_data_acceptance]
    case.call_and_validate(base_url=base_url, headers=headers, excluded_checks=excluded)
