import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from loadgen.kdg import STOCK_UPDATE_TEMPLATE, Renderer, TemplateError, format_moment, render_records
from stock_pipeline.domain.stock_updates import parse_stock_updates


def test_the_design_template_renders_records_the_pipeline_accepts():
    records = render_records(200, seed=7)
    parsed = parse_stock_updates("\n".join(records).encode())
    assert parsed.rejections == []
    assert parsed.table.num_rows == 200
    first = json.loads(records[0])
    assert 0 <= first["accountId"] <= 100
    assert first["retailerId"].startswith("retailer-")


def test_rendering_is_repeatable_with_a_seed():
    clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
    assert Renderer(3, clock).records(STOCK_UPDATE_TEMPLATE, 5) == Renderer(3, clock).records(STOCK_UPDATE_TEMPLATE, 5)


def test_random_number_bounds_are_inclusive_and_accept_min_max():
    renderer = Renderer(1)
    values = {int(renderer.compile("{{random.number(2)}}")()) for _ in range(200)}
    assert values == {0, 1, 2}
    ranged = {int(renderer.compile('{{random.number({"min": 5, "max": 6})}}')()) for _ in range(100)}
    assert ranged == {5, 6}


def test_moment_formats_as_kdg_writes_them():
    when = datetime(2026, 3, 4, 5, 6, 7, 89_000, tzinfo=timezone(timedelta(hours=1)))
    assert format_moment(when, "YYYY-MM-DDTHH:mm:ss.SSSZ") == "2026-03-04T05:06:07.089+01:00"
    assert format_moment(when, "[Day] D/M/YY hh A ZZ") == "Day 4/3/26 05 AM +0100"


def test_unknown_helper_fails_with_its_position():
    with pytest.raises(TemplateError, match=r"'faker\.nope' at position 5"):
        Renderer().compile('{"a":{{faker.nope()}}}')
