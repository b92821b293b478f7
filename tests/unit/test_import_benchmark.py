"""The import benchmark's model of AWS time: a file's ingest as its chunks and the ingest's own pacer make it."""

import pytest

from benchmarks.import_year import HEADER, ingest_seconds


def day_file(warehouses, levels_each):
    return HEADER + "".join(
        f"2026-11-30T20:00:00Z\tW {w}\tsku-{i:05d}\tA\t-1\n" for w in range(warehouses) for i in range(levels_each)
    )


def test_a_file_for_one_warehouse_waits_for_its_partition_past_the_first_seconds_burst():
    seconds, transactions = ingest_seconds(day_file(1, 990))  # 10 transactions of 99 levels, 1,980 units
    assert transactions == 10
    # the bucket refills while a transaction runs: the partition's rate past the burst, then the last transaction
    assert seconds == pytest.approx((1980 - 800) / 800 + 0.025)


def test_a_file_spread_over_warehouses_is_not_slowed():
    seconds, transactions = ingest_seconds(day_file(10, 99))  # each warehouse's 198 units fit its burst
    assert seconds == pytest.approx(transactions * 0.025)
