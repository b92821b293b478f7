"""The local Firehose's delivery rules (pure parts; the e2e tests drive the whole stream)."""

import gzip
from datetime import UTC, datetime

from local_aws.firehose import LocalFirehose, evaluate_prefix


class RecordingS3:
    def __init__(self):
        self.objects = {}

    def put_object(self, Bucket, Key, Body, **encryption):
        self.objects[(Bucket, Key)] = Body
        self.encryption = encryption


DESTINATION = {
    "BucketARN": "arn:aws:s3:::bucket",
    "RoleARN": "arn:aws:iam::123456789012:role/delivery",
    "Prefix": "raw/x/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/",
    "CompressionFormat": "GZIP",
    "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 1},
    "ProcessingConfiguration": {
        "Enabled": True,
        "Processors": [
            {"Type": "AppendDelimiterToRecord", "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}]}
        ],
    },
}


def test_prefix_expressions_are_evaluated_and_a_plain_prefix_gets_the_default_time_path():
    when = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert evaluate_prefix(DESTINATION["Prefix"], when) == "raw/x/2026/03/04/05/"
    assert evaluate_prefix("plain/", when) == "plain/2026/03/04/05/"
    assert (
        evaluate_prefix("err/!{firehose:error-output-type}/", when, "format-conversion-failed")
        == "err/format-conversion-failed/"
    )


def test_records_are_buffered_until_the_interval_then_delivered_gzip_with_newlines():
    now = [0.0]
    s3 = RecordingS3()
    firehose = LocalFirehose(lambda role: s3, clock=lambda: now[0])
    firehose.accept("stream", "1", DESTINATION, [{"Data": b'{"a":1}'}, {"Data": b'{"a":2}'}])

    assert firehose.flush_due() == 0 and s3.objects == {}
    now[0] = 61.0
    assert firehose.flush_due() == 1

    [(bucket, key)] = s3.objects
    assert bucket == "bucket" and key.startswith("raw/x/") and key.endswith(".gz")
    assert gzip.decompress(s3.objects[(bucket, key)]) == b'{"a":1}\n{"a":2}\n'


def test_a_full_buffer_is_delivered_at_once():
    s3 = RecordingS3()
    firehose = LocalFirehose(lambda role: s3, clock=lambda: 0.0)
    firehose.accept("stream", "1", DESTINATION, [{"Data": b"x" * (1024 * 1024)}])
    assert len(s3.objects) == 1
    assert firehose.pending_records() == 0
