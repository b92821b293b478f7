"""The ingest's write pacing per warehouse: a small file goes at once, a large one at the partition's rate."""

from stock_pipeline.domain.pacing import Pacer
from tests.unit.test_loadgen_sender import FakeClock


def test_a_burst_of_one_seconds_worth_goes_at_once_and_more_waits_for_the_rate():
    clock = FakeClock()
    pacer = Pacer(800, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        pacer.spend("WH#Berlin", 198)  # a chunk of 99 levels in a transaction
    assert clock.slept == []  # 792 units: within the burst
    pacer.spend("WH#Berlin", 198)
    assert clock.slept == [190 / 800]
    pacer.spend("WH#Hamburg", 198)  # another warehouse's partition has its own bucket
    assert len(clock.slept) == 1


def test_a_large_files_writes_to_one_partition_average_the_rate():
    clock = FakeClock()
    pacer = Pacer(800, clock=clock, sleep=clock.sleep)
    for _ in range(203):  # 20,000 levels of one warehouse, two units each
        clock.now += 0.025  # the transaction's own time
        pacer.spend("WH#Store 00", 198)
    assert 203 * 198 / clock.now <= 800 * 1.03
    assert pacer.waited_s > 40
