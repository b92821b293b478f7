"""Parsing, validation, newest-per-article and the item/row shapes of stock updates (pure, no AWS)."""

import gzip
import io
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stock_pipeline.domain.errors import UnreadableObjectError
from stock_pipeline.domain.stock_updates import (
    CANONICAL_SCHEMA,
    arrival_date,
    article_stock_columns,
    lake_rows,
    latest_per_article,
    parse_stock_updates,
)

SAMPLE = Path(__file__).parents[2] / "events" / "data" / "stock_updates_kdg.ndjson"


def record(**overrides):
    base = {
        "accountId": 1,
        "retailerId": "retailer-1",
        "channelId": 2,
        "productId": "p-7",
        "articleId": 3,
        "articleNumber": 4,
        "lastUpdated": "2026-11-23T10:00:00.000+00:00",
        "quantity": 5,
    }
    base.update(overrides)
    return base


def ndjson(*records) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


def test_kdg_sample_parses_with_bad_lines_rejected_by_number_and_reason():
    parsed = parse_stock_updates(SAMPLE.read_bytes())

    assert parsed.records_read == 7
    assert parsed.table.schema == CANONICAL_SCHEMA
    assert parsed.table.column("sourceLine").to_pylist() == [1, 2, 3, 4, 7]
    assert [(r.line, r.reason.split(":")[0]) for r in parsed.rejections] == [(5, "quantity"), (6, "malformed JSON")]


def test_gzip_object_gives_the_same_result_as_plain():
    data = SAMPLE.read_bytes()
    assert parse_stock_updates(gzip.compress(data)).table.equals(parse_stock_updates(data).table)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-02-15T12:00:00.000+01:00", datetime(2021, 2, 15, 11, 0, tzinfo=UTC)),
        ("2021-02-15T12:00:00Z", datetime(2021, 2, 15, 12, 0, tzinfo=UTC)),
        ("2021-02-15T12:00:00.123456Z", datetime(2021, 2, 15, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2021-02-15T12:00:00.5-0230", datetime(2021, 2, 15, 14, 30, 0, 500000, tzinfo=UTC)),
        ("2021-02-15 12:00:00+00:00", datetime(2021, 2, 15, 12, 0, tzinfo=UTC)),
        ("2021-02-15T12:00Z", datetime(2021, 2, 15, 12, 0, tzinfo=UTC)),
    ],
)
def test_iso_timestamps_in_any_form_with_offset_are_stored_as_utc(text, expected):
    parsed = parse_stock_updates(ndjson(record(lastUpdated=text)))
    assert parsed.rejections == []
    assert parsed.table.column("lastUpdated")[0].as_py() == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2021-02-15T12:00:00", "not an ISO-8601 timestamp with offset"),
        ("2021-02-15T12:00:00.123456789Z", "not an ISO-8601 timestamp with offset"),
        ("15.02.2021 12:00", "not an ISO-8601 timestamp with offset"),
        ("2021-13-15T12:00:00Z", "not a valid date-time"),
    ],
)
def test_timestamps_without_offset_beyond_microseconds_or_impossible_are_rejected(text, reason):
    parsed = parse_stock_updates(ndjson(record(), record(lastUpdated=text)))
    assert parsed.table.num_rows == 1
    assert len(parsed.rejections) == 1
    assert parsed.rejections[0].line == 2
    assert reason in parsed.rejections[0].reason


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (record(quantity=-1), "quantity: negative"),
        ({k: v for k, v in record().items() if k != "articleId"}, "articleId: missing"),
        (record(retailerId="  "), "retailerId: empty"),
        (record(accountId="17"), "accountId: expected an integer"),
        (record(quantity=1.5), "quantity: expected an integer"),
        (record(channelId=True), "channelId: expected an integer"),
        (record(productId=7), "productId: expected a string"),
        (record(articleId=2**70), "articleId: integer out of range"),
        ("[1, 2]", "expected a JSON object"),
        ('{"accountId": 1,', "malformed JSON"),
    ],
)
def test_each_invalid_record_is_rejected_with_its_reason_and_the_rest_still_counts(bad, reason):
    parsed = parse_stock_updates(ndjson(record(articleId=1), bad, record(articleId=2)))
    assert parsed.table.column("articleId").to_pylist() == [1, 2]
    assert [(r.line, reason in r.reason) for r in parsed.rejections] == [(2, True)]
    assert parsed.rejections[0].record  # the offending text is kept for the person who fixes the feed


def test_blank_lines_and_crlf_keep_line_numbers_right():
    data = (json.dumps(record(articleId=1)) + "\r\n\r\n\n" + json.dumps(record(articleId=2)) + "\r\n").encode()
    parsed = parse_stock_updates(data)
    assert parsed.table.column("sourceLine").to_pylist() == [1, 4]


def test_records_without_delimiter_on_one_line_are_all_read():
    data = (json.dumps(record(articleId=1)) + json.dumps(record(articleId=2)) + "\n").encode()
    parsed = parse_stock_updates(data)
    assert parsed.table.column("articleId").to_pylist() == [1, 2]
    assert parsed.table.column("sourceLine").to_pylist() == [1, 1]


@pytest.mark.parametrize(
    "body", [b"", b"\n\n", gzip.compress(b"", mtime=0)], ids=["empty", "blank-lines", "empty-gzip"]
)
def test_empty_object_yields_nothing_and_rejects_nothing(body):
    parsed = parse_stock_updates(body)
    assert parsed.table.num_rows == 0
    assert parsed.rejections == []
    assert parsed.records_read == 0


def test_parquet_from_firehose_format_conversion_is_read_with_lower_case_columns():
    table = pa.table(
        {
            "accountid": pa.array([1, 2], pa.int32()),
            "retailerid": ["retailer-1", "retailer-2"],
            "channelid": [2, 3],
            "productid": ["p1", "p2"],
            "articleid": [3, 4],
            "articlenumber": [5, 6],
            "lastupdated": pa.array([datetime(2026, 11, 23, 10), datetime(2026, 11, 23, 11)], pa.timestamp("ms")),
            "quantity": [7, -1],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)

    parsed = parse_stock_updates(buffer.getvalue())

    assert parsed.table.column("accountId").to_pylist() == [1]
    assert parsed.table.column("lastUpdated")[0].as_py() == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert [(r.line, r.reason) for r in parsed.rejections] == [(2, "quantity: negative")]


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00garbage", b"PAR1 not really parquet PAR1"])
def test_unreadable_objects_raise_so_the_message_can_go_to_the_dlq(body):
    with pytest.raises(UnreadableObjectError):
        parse_stock_updates(body)


def test_newest_record_per_article_wins_whatever_the_order_in_the_file():
    data = ndjson(
        record(lastUpdated="2026-11-23T10:00:02Z", quantity=2),
        record(lastUpdated="2026-11-23T10:00:03Z", quantity=3),
        record(lastUpdated="2026-11-23T10:00:01Z", quantity=1),
        record(channelId=9, quantity=90),
    )
    latest = latest_per_article(parse_stock_updates(data).table)
    by_channel = {row["channelId"]: row["quantity"] for row in latest.to_pylist()}
    assert by_channel == {2: 3, 9: 90}
    assert latest.schema == CANONICAL_SCHEMA


def test_on_equal_timestamps_the_later_line_wins():
    data = ndjson(record(quantity=1), record(quantity=2))
    latest = latest_per_article(parse_stock_updates(data).table)
    assert latest.column("quantity").to_pylist() == [2]


def test_items_use_the_single_table_keys_and_fixed_width_utc_text():
    latest = latest_per_article(parse_stock_updates(ndjson(record(lastUpdated="2026-11-23T11:00:00+01:00"))).table)
    batch = article_stock_columns(latest, source_key="raw/x.gz")
    assert (batch.pk, batch.sk, batch.version) == (["RET#retailer-1#ACC#1"], ["ART#3#CH#2"], "lastUpdated")
    assert batch.columns["lastUpdated"] == ("S", ["2026-11-23T10:00:00.000000Z"])
    assert batch.columns["quantity"] == ("N", ["5"])
    assert batch.constants == {"entity": ("S", "ArticleStock"), "sourceKey": ("S", "raw/x.gz")}
    assert batch.lines == [1]


def test_fixed_width_text_orders_like_time():
    stamps = ["2026-11-23T10:00:00.5Z", "2026-11-23T10:00:00.25Z", "2026-11-23T09:59:59.999999Z", "2026-11-23T10:00Z"]
    latest = parse_stock_updates(ndjson(*[record(articleId=i, lastUpdated=s) for i, s in enumerate(stamps)])).table
    texts = article_stock_columns(latest, source_key="k").columns["lastUpdated"][1]
    assert texts == [
        "2026-11-23T10:00:00.500000Z",
        "2026-11-23T10:00:00.250000Z",
        "2026-11-23T09:59:59.999999Z",
        "2026-11-23T10:00:00.000000Z",
    ]
    assert sorted(texts) == [texts[2], texts[3], texts[1], texts[0]]


VARIANTS = [
    "2021-02-15T12Z",
    "2021-02-15T12:00Z",
    "2021-02-15T12:00:00+0100",
    "2021-02-15T12:00:00+01",
    "2021-02-15T12:00:00-00:00",
    "2021-02-15 12:00:00.123456+14:00",
    "2021-02-15T12:00:00",
    "2021-02-15T12:00:00z",
    "2021-02-15T12:00:00.Z",
    "2021-02-15T12:00:00,5Z",
    "2021-02-15T1200Z",
    "20210215T120000Z",
    "2021-02-15T24:00:00Z",
    "2021-02-29T12:00:00Z",
    "2021-02-15T12:00:00+25:00",
    "2021-02-15T12:00:00.1234567Z",
    " 2021-02-15T12:00:00Z",
]


@pytest.mark.parametrize("text", VARIANTS)
def test_a_timestamp_is_judged_the_same_alone_and_next_to_a_bad_one(text):
    # Given the value alone (the whole column cast at once) and next to an impossible date (the row-wise path)
    alone = parse_stock_updates(ndjson(record(lastUpdated=text)))
    mixed = parse_stock_updates(ndjson(record(lastUpdated=text), record(lastUpdated="2021-13-01T00:00:00Z")))

    # Then both paths accept or reject it alike, with the same instant
    assert alone.table.num_rows == (mixed.table.num_rows)
    assert alone.table.column("lastUpdated").to_pylist() == mixed.table.column("lastUpdated").to_pylist()


def test_newest_per_article_comes_sorted_by_retailer_account_article_channel():
    records = [
        record(retailerId=r, accountId=a, articleId=i, channelId=c, quantity=q)
        for q, (r, a, i, c) in enumerate(
            [
                ("r-b", 2, 1, 1),
                ("r-a", 10, 5, 1),
                ("r-a", 9, 7, 2),
                ("r-a", 10, 5, 0),
                ("r-c", 1, 1, 1),
                ("r-a", 9, 3, 2),
            ]
        )
    ]
    latest = latest_per_article(parse_stock_updates(ndjson(*records)).table)
    keys = [(r["retailerId"], r["accountId"], r["articleId"], r["channelId"]) for r in latest.to_pylist()]
    assert keys == sorted(keys)
    assert len(keys) == 6


def test_arrival_date_comes_from_the_firehose_hour_prefix_else_the_event_time():
    assert arrival_date("raw/stock-updates/2026/11/24/23/stream-1-2026-11-24-23-59-59-abc.gz", None) == "2026-11-24"
    assert arrival_date("raw/stock-updates/manual/sample.ndjson", "2026-11-25T00:00:01.000Z") == "2026-11-25"
    assert arrival_date("raw/stock-updates/2026/13/40/10/x.gz", "2026-11-25T09:00:00Z") == "2026-11-25"
    with pytest.raises(ValueError, match="no date"):
        arrival_date("raw/stock-updates/manual/sample.ndjson", None)


def test_lake_rows_are_snake_case_in_the_order_of_the_newest_rows():
    latest = latest_per_article(parse_stock_updates(ndjson(record(), record(retailerId="retailer-0"))).table)
    rows = lake_rows(latest, source_key="raw/x.gz")
    assert rows.column_names == [
        "retailer_id",
        "account_id",
        "channel_id",
        "article_id",
        "article_number",
        "product_id",
        "last_updated",
        "quantity",
        "source_key",
        "source_line",
    ]
    assert [r["retailer_id"] for r in rows.to_pylist()] == ["retailer-0", "retailer-1"]
    assert rows.to_pylist()[0]["account_id"] == 1
    assert rows.column("source_key").to_pylist() == ["raw/x.gz", "raw/x.gz"]


def test_a_real_load_object_is_one_file_whose_row_groups_split_the_retailers():
    from loadgen.kdg import render_records
    from stock_pipeline.adapters.lake import ROW_GROUP_ROWS, encode

    # Given a 40,000-record object of the KDG template
    data = ("\n".join(render_records(40_000, seed=3)) + "\n").encode()
    rows = lake_rows(latest_per_article(parse_stock_updates(data).table), source_key="k")

    # When it is encoded as the lake writer does
    meta = pq.ParquetFile(io.BytesIO(encode(rows, row_group_rows=ROW_GROUP_ROWS))).metadata

    # Then the row groups cover consecutive, non-overlapping retailer ranges with statistics Athena can use
    ranges = [meta.row_group(g).column(0).statistics for g in range(meta.num_row_groups)]
    assert meta.num_row_groups == -(-rows.num_rows // ROW_GROUP_ROWS) > 1
    assert all(s.has_min_max for s in ranges)
    assert all(a.max <= b.min for a, b in itertools.pairwise(ranges))
    assert meta.row_group(0).column(1).statistics.has_min_max  # account_id too


def test_keys_too_many_for_one_integer_are_grouped_by_their_codes_with_the_same_result(monkeypatch):
    import random

    from stock_pipeline.domain import stock_updates

    rng = random.Random(5)
    records = [
        record(
            retailerId=f"r-{rng.randint(0, 3)}",
            accountId=rng.randint(0, 3),
            articleId=rng.randint(0, 5),
            channelId=rng.randint(0, 2),
            quantity=n,
            lastUpdated=f"2026-11-23T10:00:{rng.randint(0, 5):02d}Z",
        )
        for n in range(400)
    ]
    table = parse_stock_updates(ndjson(*reversed(records))).table
    combined = latest_per_article(table)

    monkeypatch.setattr(stock_updates, "_combined", lambda codes: None)
    grouped = latest_per_article(table)

    assert grouped.equals(combined)
    assert combined.num_rows == len(
        {(r["retailerId"], r["accountId"], r["articleId"], r["channelId"]) for r in records}
    )
