"""The console's OpenAPI document: generated, checked in, and naming exactly the routes the template gives the
console function (so a route added to one and not the other fails here)."""

import json
from pathlib import Path

import pytest

from local_aws.template import load_template
from stock_pipeline.console_openapi import openapi

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def resources():
    return load_template()["Resources"]


def test_the_checked_in_document_is_the_one_the_code_generates():
    checked_in = json.loads((ROOT / "docs" / "console-openapi.json").read_text())
    assert checked_in == openapi(), "run: make openapi"


def test_the_document_has_every_api_route_of_the_console_function_and_no_other(resources):
    events = resources["ConsoleFunction"]["Properties"]["Events"].values()
    routes = {
        (e["Properties"]["Path"], e["Properties"]["Method"].lower())
        for e in events
        if e["Properties"]["Path"].startswith("/console/api/")
    }
    documented = {(path, method) for path, operations in openapi()["paths"].items() for method in operations}
    assert documented == routes
    # every route but the sign-in itself behind the JWT authorizer, in the document as in the template
    for event in events:
        path, method = event["Properties"]["Path"], event["Properties"]["Method"].lower()
        if path.startswith("/console/api/"):
            secured = "security" in openapi()["paths"][path][method]
            assert secured == (event["Properties"].get("Auth", {}).get("Authorizer") != "NONE"), path
