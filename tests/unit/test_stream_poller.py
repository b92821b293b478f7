"""The local stream poller keeps Lambda's rules for stream mappings (filters, retries, bisect, on-failure)."""

import json

from local_aws.pollers import DynamoDbStreamPoller
from stock_pipeline.domain.event_filters import matches_any


class Shard:
    """An in-memory stream with the three calls the poller makes."""

    def __init__(self, records):
        self.records = records

    def describe_stream(self, StreamArn):
        return {"StreamDescription": {"Shards": [{"ShardId": "s-1"}]}}

    def get_shard_iterator(self, StreamArn, ShardId, ShardIteratorType, SequenceNumber=None):
        start = 0 if ShardIteratorType == "TRIM_HORIZON" else int(SequenceNumber) + 1
        return {"ShardIterator": str(start)}

    def get_records(self, ShardIterator, Limit):
        start = int(ShardIterator)
        return {"Records": self.records[start : start + Limit], "NextShardIterator": str(start + Limit)}


class Queue:
    def __init__(self):
        self.sent = []

    def send_message(self, QueueUrl, MessageBody):
        self.sent.append(json.loads(MessageBody))


class Function:
    name = "fn"

    def __init__(self, behaviour):
        self.behaviour, self.calls = behaviour, []

    def invoke(self, event):
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.calls.append(sequences)
        return self.behaviour(sequences)


def records(n, pk="WH#a"):
    return [{"eventID": str(i), "dynamodb": {"SequenceNumber": str(i), "Keys": {"PK": {"S": pk}}}} for i in range(n)]


def poller(function, stream, **kwargs):
    return DynamoDbStreamPoller(streams=stream, sqs=Queue(), stream_arn="arn", function=function, **kwargs)


def test_a_reported_failure_is_retried_from_that_record_only():
    failed_once = []

    def behaviour(sequences):
        if "2" in sequences and not failed_once:
            failed_once.append(True)
            return {"batchItemFailures": [{"itemIdentifier": "2"}]}
        return {"batchItemFailures": []}

    function = Function(behaviour)
    p = poller(function, Shard(records(4)), report_batch_item_failures=True)
    assert p.poll_once() == 4
    assert function.calls == [["0", "1", "2", "3"], ["2", "3"]]


def test_a_failing_batch_is_bisected_and_the_poison_record_given_up_to_the_destination():
    def behaviour(sequences):
        if "1" in sequences:
            raise RuntimeError("poison")
        return None

    function = Function(behaviour)
    p = poller(function, Shard(records(4)), bisect_on_error=True, maximum_retry_attempts=2, on_failure_queue_url="q")
    p.poll_once()
    assert ["0"] in function.calls
    assert ["2", "3"] in function.calls
    [failure] = p.sqs.sent
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == "1"
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_filter_criteria_drop_records_before_the_function_and_polling_resumes_after_the_checkpoint():
    stream = Shard(records(2, pk="WH#x") + records(1, pk="FILE#y"))
    stream.records[2]["dynamodb"]["SequenceNumber"] = "2"
    function = Function(lambda s: None)
    pattern = {"Pattern": json.dumps({"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "WH#"}]}}}})}
    p = poller(function, stream, filters=[pattern])
    p.poll_once()
    assert function.calls == [["0", "1"]]
    assert p.poll_once() == 0


def test_pattern_rules():
    record = {"a": {"b": "WH#1"}, "n": 1}
    assert matches_any([{"Pattern": '{"a": {"b": [{"prefix": "WH#"}]}}'}], record)
    assert not matches_any([{"Pattern": '{"a": {"b": ["FILE"]}}'}], record)
    assert matches_any([{"Pattern": '{"c": [{"exists": false}]}'}], record)
