"""The load generator's batching, retry of refused records and pacing; Firehose replaced by a scripted stub
that answers exactly as PutRecordBatch does (RequestResponses with ErrorCode for refused records)."""

import random

import pytest
from botocore.exceptions import ClientError

from loadgen.kdg import Renderer, TemplateError
from loadgen.sender import BILLING_INCREMENT, MAX_BATCH_BYTES, FirehoseSender, RateLimiter, batches, pack, run


class ScriptedFirehose:
    """Refuses the records whose payload is listed in `refuse`, each for the given number of calls."""

    def __init__(self, refuse=None, throttle_calls=0):
        self.refuse = dict(refuse or {})
        self.throttle_calls = throttle_calls
        self.calls = []
        self.accepted = []

    def put_record_batch(self, DeliveryStreamName, Records):
        assert len(Records) <= 500 and sum(len(r["Data"]) for r in Records) <= MAX_BATCH_BYTES
        self.calls.append([r["Data"] for r in Records])
        if self.throttle_calls:
            self.throttle_calls -= 1
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailableException", "Message": "slow down"}}, "PutRecordBatch"
            )
        responses = []
        for record in Records:
            left = self.refuse.get(record["Data"], 0)
            if left:
                self.refuse[record["Data"]] = left - 1
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "busy"})
            else:
                self.accepted.append(record["Data"])
                responses.append({"RecordId": "id"})
        return {"FailedPutCount": sum(1 for r in responses if "ErrorCode" in r), "RequestResponses": responses}


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_batches_respect_500_records_and_4_mib():
    small = [b"x" * 10] * 1201
    assert [len(b) for b in batches(small)] == [500, 500, 201]
    big = [b"y" * 900_000] * 10  # 4 fit in 4 MiB
    assert [len(b) for b in batches(big)] == [4, 4, 2]
    with pytest.raises(ValueError, match="exceeds Firehose"):
        list(batches([b"z" * (1000 * 1024 + 1)]))


def test_only_refused_records_are_sent_again_with_backoff():
    # Given Firehose refusing record 3 twice and record 7 once
    records = [f"r{n}".encode() for n in range(10)]
    firehose = ScriptedFirehose(refuse={b"r3": 2, b"r7": 1})
    clock = FakeClock()
    sender = FirehoseSender(firehose, "s", sleep=clock.sleep, jitter=random.Random(1))

    # When the batch is put
    outcome = sender.put(records)

    # Then every record is in exactly once, and the retries carried only the refused ones
    assert sorted(firehose.accepted) == sorted(records)
    assert firehose.calls[1] == [b"r3", b"r7"] and firehose.calls[2] == [b"r3"]
    assert (outcome.sent, outcome.failed, outcome.calls, outcome.retried) == (10, 0, 3, 3)
    assert len(clock.slept) == 2 and all(0 <= s <= 5 for s in clock.slept)


def test_a_throttled_call_is_retried_whole_and_records_that_never_go_in_are_counted():
    firehose = ScriptedFirehose(refuse={b"bad": 99}, throttle_calls=1)
    sender = FirehoseSender(firehose, "s", max_attempts=4, sleep=lambda s: None)
    outcome = sender.put([b"ok", b"bad"])
    assert (outcome.sent, outcome.failed, outcome.calls) == (1, 1, 4)
    assert firehose.calls[0] == firehose.calls[1] == [b"ok", b"bad"]


def test_the_rate_limiter_paces_over_the_whole_run():
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        limiter.acquire(10)
    assert clock.now == pytest.approx(0.9)  # the 10th batch of 10 may start at 0.9 s at 100 records/s


def test_run_sends_the_count_at_the_rate_with_newlines_on_request():
    clock = FakeClock()
    firehose = ScriptedFirehose()
    renderer = Renderer(5)
    summary = run(
        renderer.compile("{{random.number(9)}}"),
        FirehoseSender(firehose, "s", sleep=clock.sleep),
        RateLimiter(1000, clock=clock, sleep=clock.sleep),
        count=2500,
        newline=True,
    )
    assert (summary.sent, summary.failed) == (2500, 0)
    assert all(len(call) == 100 for call in firehose.calls)  # a tenth of a second of the rate per call
    assert all(r.endswith(b"\n") for r in firehose.accepted)
    assert summary.seconds == pytest.approx(2.4) and "achieved" in summary.line()


def test_run_for_a_duration_stops_when_the_time_is_up():
    clock = FakeClock()
    summary = run(
        Renderer(1).compile("x"),
        FirehoseSender(ScriptedFirehose(), "s"),
        RateLimiter(50, clock=clock, sleep=clock.sleep),
        duration_s=2,
    )
    assert summary.sent == 100


def test_kdg_helpers_beyond_numbers():
    renderer = Renderer(3)
    render = renderer.compile(
        '{"id": "{{random.uuid}}", "city": "{{random.arrayElement(["Berlin", "Hamburg"])}}", '
        '"who": "{{faker.name.firstName}} {{name.lastName}}", "mail": "{{internet.email}}", '
        '"flag": {{random.boolean}}, "product": "{{faker.commerce.productName}}"}'
    )
    import json

    record = json.loads(render())
    assert len(record["id"]) == 36 and record["id"][14] == "4"
    assert record["city"] in {"Berlin", "Hamburg"}
    assert record["mail"].endswith("@example.com") and isinstance(record["flag"], bool)
    assert Renderer(3).compile("{{random.uuid}}")() == Renderer(3).compile("{{random.uuid}}")()


def test_an_unknown_faker_helper_names_its_position():
    with pytest.raises(TemplateError, match=r"unknown helper 'faker.name.middleName' at position 6"):
        Renderer().compile('{"a": {{faker.name.middleName}}}')


def test_pack_fills_records_up_to_the_billing_increment_without_splitting_an_update():
    updates = [(b"u%03d" % n) * 60 for n in range(100)]  # 240 bytes each
    packed = list(pack(updates))
    assert sum(n for _, n in packed) == 100
    assert all(len(record) <= BILLING_INCREMENT for record, _ in packed)
    assert [n for _, n in packed][:-1] == [21] * 4  # 21 * 240 + 20 newlines = 5,060 bytes
    assert b"\n".join(record for record, _ in packed).split(b"\n") == updates
    assert list(pack([b"x" * 6000, b"y"])) == [(b"x" * 6000, 1), (b"y", 1)]
    with pytest.raises(ValueError, match="packed record"):
        list(pack(updates, 0))


def test_packed_run_counts_updates_and_records_and_retries_a_refused_pack_whole():
    clock = FakeClock()
    renderer = Renderer(2).compile('{"n": {{random.number(99999)}}, "pad": "{{random.uuid}}"}')
    first = Renderer(2).compile('{"n": {{random.number(99999)}}, "pad": "{{random.uuid}}"}')
    first_pack = next(pack([first().encode() for _ in range(300)], BILLING_INCREMENT - 1))[0] + b"\n"
    firehose = ScriptedFirehose(refuse={first_pack: 1})
    summary = run(
        renderer,
        FirehoseSender(firehose, "s", sleep=clock.sleep),
        RateLimiter(300, clock=clock, sleep=clock.sleep),
        count=600,
        newline=True,
        pack_bytes=BILLING_INCREMENT,
    )
    lines = [line for record in firehose.accepted for line in record.decode().splitlines()]
    assert (summary.sent, summary.failed) == (600, 0)
    assert len(lines) == 600 and len(set(lines)) == 600
    assert summary.records == len(firehose.accepted) < 600 / 10
    assert summary.retried == 1
    assert all(len(r) <= BILLING_INCREMENT and r.endswith(b"\n") for r in firehose.accepted)
    assert "packed Firehose records" in summary.line()
