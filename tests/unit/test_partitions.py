import pyarrow as pa

from stock_pipeline.domain.partitions import split_partitions


def test_rows_are_grouped_per_value_combination_without_partition_columns():
    table = pa.table({"r": ["b", "a", "b", "a"], "acc": ["1", "1", "2", "1"], "v": [1, 2, 3, 4]})
    parts = {path: rows.column("v").to_pylist() for path, rows in split_partitions(table, ["r", "acc"])}
    assert {k: sorted(v) for k, v in parts.items()} == {"r=a/acc=1": [2, 4], "r=b/acc=1": [1], "r=b/acc=2": [3]}


def test_path_hostile_values_are_escaped_and_nulls_get_the_hive_default():
    table = pa.table({"r": ["x/y", None], "v": [1, 2]})
    paths = [path for path, _ in split_partitions(table, ["r"])]
    assert sorted(paths) == ["r=__HIVE_DEFAULT_PARTITION__", "r=x%2Fy"]


def test_an_empty_table_has_no_partitions():
    assert list(split_partitions(pa.table({"r": pa.array([], pa.string())}), ["r"])) == []
