import pyarrow as pa

from stock_pipeline.domain.partitions import split_partitions


def test_rows_are_grouped_per_value_combination_without_partition_columns():
    table = pa.table({"r": ["b", "a", "b", "a"], "acc": ["1", "1", "2", "1"], "v": [1, 2, 3, 4]})
    parts = {path: rows.column("v").to_pylist() for path, rows in split_partitions(table, ["r", "acc"])}
    assert {k: sorted(v) for k, v in parts.items()} == {"r=a/acc=1": [2, 4], "r=b/acc=1": [1], "r=b/acc=2": [3]}


def test_values_are_written_as_they_are_and_nulls_get_the_hive_default():
    table = pa.table({"r": ["x/y", None], "v": [1, 2]})
    paths = [path for path, _ in split_partitions(table, ["r"])]
    assert sorted(paths) == ["r=__HIVE_DEFAULT_PARTITION__", "r=x/y"]


HOSTILE = ["Lager A/B", "Hamburg=2", "Halle #1+2: Nord", "M\u00fcnchen 3", "\u6771\u4eac 1", "50% off"]


def athena_location(table_logical_id, **values):
    """The S3 prefix Athena reads for these partition values: the Glue table's storage.location.template from
    template.yaml with the values substituted as partition projection does (raw, injected)."""
    from local_aws.template import load_template

    template = load_template()["Resources"][table_logical_id]["Properties"]["TableInput"]["Parameters"]
    location = template["storage.location.template"]["Fn::Sub"].replace("${DataBucket}", "bucket")
    for name, value in values.items():
        location = location.replace("${!" + name + "}", value)
    assert "${" not in location, location
    return location


def test_the_lake_writes_where_athenas_injected_projection_reads_whatever_the_warehouse_is_called():
    from stock_pipeline.domain.inventory import lake_rows, parse_inventory_file

    rows = "".join(f"2026-11-25T08:00:00Z\t{w}\ti1\tItem\t1\n" for w in HOSTILE)
    parsed = parse_inventory_file(("Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n" + rows).encode())
    written = {
        f"s3://bucket/curated/inventory_transactions/{path}/"
        for path, _ in split_partitions(lake_rows(parsed.table, source_key="k"), ["warehouse", "dt"])
    }
    assert written == {athena_location("InventoryTransactionsGlueTable", warehouse=w, dt="2026-11-25") for w in HOSTILE}


def test_supplier_partitions_are_written_where_athena_reads_them():
    from datetime import date

    from stock_pipeline.domain.partitions import escape_value
    from stock_pipeline.domain.supplier_feeds import day_partition

    for supplier in HOSTILE:
        partition = day_partition(supplier, date(2026, 11, 5))
        path = "/".join(f"{name}={escape_value(value)}" for name, value in partition.items())
        expected = athena_location("SupplierStockGlueTable", supplier=supplier, year="2026", month="11", day="05")
        assert f"s3://bucket/curated/supplier_stock/{path}/" == expected


def test_an_empty_table_has_no_partitions():
    assert list(split_partitions(pa.table({"r": pa.array([], pa.string())}), ["r"])) == []
