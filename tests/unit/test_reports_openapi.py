"""The reports API's parameters: the function checks them from domain.report_params (no pydantic at its cold
start), the OpenAPI document declares them with Powertools and pydantic; the two must say the same."""

import pytest

from stock_pipeline.domain.report_params import LIMIT, QUERY, WITHIN_DAYS, Param
from stock_pipeline.domain.reports import ReportError
from stock_pipeline.reports_openapi import openapi


def declared(schema):
    """(minimum, maximum, pattern, min_length) of a parameter's schema (the non-null branch of an anyOf)."""
    branch = next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)
    number = lambda v: None if v is None else int(v)  # noqa: E731 (pydantic writes bounds as floats)
    return number(branch.get("minimum")), number(branch.get("maximum")), branch.get("pattern"), branch.get("minLength")


def test_every_routes_query_parameters_are_the_ones_the_function_checks():
    paths = openapi()["paths"]
    assert set(paths) == set(QUERY)
    for path, params in QUERY.items():
        documented = {p["name"]: p for p in paths[path]["get"]["parameters"] if p["in"] == "query"}
        assert list(documented) == [p.name for p in params], path
        for param in params:
            schema = documented[param.name]["schema"]
            assert declared(schema) == (param.minimum, param.maximum, param.pattern, param.min_length), param.name
            assert schema.get("default") == param.default and documented[param.name]["description"] == param.description


def test_a_parameter_is_its_value_or_a_400_naming_it():
    assert LIMIT.parse(None) is None and LIMIT.parse("1000") == 1000 and WITHIN_DAYS.parse(None) == 7
    for raw in ("0", "1001", "ten", "", "1.5"):
        with pytest.raises(ReportError) as refused:
            LIMIT.parse(raw)
        assert refused.value.parameter == "limit"
    assert Param("account_id", integer=True).parse("32589158477190044730") == 32589158477190044730
    with pytest.raises(ReportError, match="format: String should match"):
        QUERY["/warehouses"][2].parse("xml")
