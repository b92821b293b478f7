"""Objects that would exhaust the function's memory or that the layer cannot read are refused with a reason."""

import gzip
import io
import re
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stock_pipeline.domain.errors import ObjectTooLargeError, UnreadableObjectError
from stock_pipeline.domain.objects import (
    MAX_OBJECT_MB,
    check_object_size,
    check_parquet,
    decompress,
    inflation_limit,
    set_inflation_limit,
)
from stock_pipeline.domain.products import ProductTableError, parse_product_table
from stock_pipeline.domain.workbooks import WorkbookError, open_workbook


@pytest.fixture
def one_mib_limit():
    before = inflation_limit()
    set_inflation_limit(1)
    yield
    set_inflation_limit(before // (1024 * 1024))


def test_gzip_is_inflated_member_by_member_within_the_limit(one_mib_limit):
    body = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n')
    assert decompress(body) == b'{"a": 1}\n{"a": 2}\n'
    assert decompress(b"plain text") == b"plain text"


def test_a_small_gzip_that_expands_past_the_limit_is_refused_before_it_fills_the_memory(one_mib_limit):
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    assert len(bomb) < 10_000
    with pytest.raises(UnreadableObjectError, match=r"refused: expands past 1 MiB \(MAX_INFLATED_MB\)"):
        decompress(bomb)


def test_a_truncated_gzip_is_unreadable():
    with pytest.raises(UnreadableObjectError, match="corrupt gzip stream"):
        decompress(gzip.compress(b"x" * 1000)[:-12])


def test_an_xlsx_whose_parts_expand_past_the_limit_is_refused(one_mib_limit):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<row/>" * (2 * 1024 * 1024 // 6))
    with pytest.raises(WorkbookError, match=r"refused: its parts expand to 2 MiB, past the 1 MiB limit"):
        open_workbook(buffer.getvalue(), "feed acme")


def parquet(table, **options):
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


PRODUCTS = pa.table({"custom_label": ["SKU-1"], "part_number": ["P-1"], "supplier": ["acme"]})


def test_a_zstd_product_table_gets_a_reason_naming_the_codec_the_layer_lacks():
    with pytest.raises(ProductTableError, match="Parquet compressed with ZSTD, which the Lambda layer's pyarrow"):
        parse_product_table(parquet(PRODUCTS, compression="zstd"), "reference/product/products.parquet")
    # snappy, gzip and uncompressed are what the layer reads
    for codec in ("snappy", "gzip", "none"):
        assert parse_product_table(parquet(PRODUCTS, compression=codec), "p.parquet").table.num_rows == 1


def test_parquet_pages_that_expand_past_the_limit_are_refused(one_mib_limit):
    zeros = pa.table({"x": pa.array([0] * 400_000, pa.int64())})
    with pytest.raises(UnreadableObjectError, match="refused: its pages expand to 3 MiB"):
        check_parquet(parquet(zeros, compression="snappy"), "stock updates")


@pytest.mark.parametrize(
    ("principal", "shown"),
    [
        ("console-user", "console-user"),  # the console's upload: its user's name, from the object's metadata
        ("AWS:AROAJ2KXXGLTXPYRZ4:nightly-export", "nightly-export (a role session, uploaded to S3 directly)"),
        ("AWS:AIDAJQABLZS4A3QDU576Q", "uploaded to S3 directly"),  # an IAM user: the event has its id, not its name
        ("AWS:123456789012", "uploaded to S3 directly"),  # the account's root
        (None, "uploaded to S3 directly"),
    ],
)
def test_who_uploaded_a_file_reads_as_a_name_or_says_it_came_straight_to_s3(principal, shown):
    from stock_pipeline.domain.objects import uploader_name

    assert uploader_name(principal) == shown


def test_an_object_over_its_kinds_limit_is_refused_with_its_size_and_the_limit():
    check_object_size(MAX_OBJECT_MB["inventory"] * 1_000_000, "inventory")  # at the limit: read
    check_object_size(None, "inventory")  # no size announced: the readers bound what they inflate
    with pytest.raises(ObjectTooLargeError, match=r"312\.5 MB, over the 200 MB an inventory file may have"):
        check_object_size(312_500_000, "inventory")


def test_gzip_inflating_past_its_kinds_limit_is_refused_as_too_large():
    bomb = gzip.compress(b"\n" * 21_000_000)  # 21 MB of newlines, a few KB compressed
    with pytest.raises(ObjectTooLargeError, match="expands past 20 MB when decompressed, the most a thresholds"):
        decompress(bomb, "thresholds")
    assert len(decompress(bomb, "inventory")) == 21_000_000


def test_every_limit_is_within_the_largest_object_the_benchmark_measured():
    page = (Path(__file__).parents[2] / "docs" / "benchmarks.md").read_text()
    measured = {
        kind: float(largest.replace(",", ""))
        for kind, largest in re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) MB \| [\d,]+ MB(?: \(over!\))? \|$", page, re.M)
    }
    assert set(measured) == set(MAX_OBJECT_MB), "run: make bench ARGS='--only object-memory'"
    assert {kind: limit for kind, limit in MAX_OBJECT_MB.items() if limit > measured[kind]} == {}
