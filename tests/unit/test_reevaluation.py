"""The threshold workflow: chunks, summary, run names, and the ASL definition as the template wires it."""

import json
from pathlib import Path

from local_aws.template import load_template
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.reevaluation import (
    changes_document,
    chunk_numbers,
    chunk_of,
    execution_name,
    summarize,
)
from stock_pipeline.domain.thresholds import ThresholdChange

ASL = Path(__file__).parents[2] / "src" / "statemachines" / "reevaluate.asl.json"


def test_ten_thousand_changes_make_a_small_state_and_chunks_that_cover_every_item_once():
    changes = [ThresholdChange(f"item-{i}", None, 10) for i in range(10_000)]
    document = changes_document(changes)
    numbers = chunk_numbers(len(changes))
    assert len(json.dumps({"chunks": numbers}).encode()) < 1_000  # the state carries numbers, not items
    covered = [c.item_id for n in numbers for c in chunk_of(document, n)]
    assert covered == [c.item_id for c in changes]


def test_the_run_is_named_after_the_file_so_a_redelivery_asks_for_the_same_run():
    ref = ObjectRef("b", "restock_thresholds/2026/11/23/restock_thresholds.json", "etag-1")
    assert execution_name(ref) == execution_name(ObjectRef("other", ref.key, "etag-1"))
    assert execution_name(ref) != execution_name(ObjectRef("b", ref.key, "etag-2"))
    assert len(execution_name(ref)) <= 80


def test_summary_adds_up_the_chunks():
    results = [
        {"items": 100, "levels": 7, "alerts": 2, "rearmed": 1},
        {"items": 5, "levels": 0, "alerts": 0, "rearmed": 0},
    ]
    assert summarize(results) == {"itemsChecked": 105, "levelsChecked": 7, "alertsSent": 2, "levelsRearmed": 1}


def test_the_definition_retries_lambda_throttling_with_backoff_and_fails_clearly():
    definition = json.loads(ASL.read_text())
    chunk_map = definition["States"]["EvaluateChunks"]
    task = chunk_map["ItemProcessor"]["States"]["EvaluateChunk"]
    [retry] = task["Retry"]
    assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"]
    assert retry["BackoffRate"] > 1
    assert chunk_map["Catch"][0]["Next"] == "ReevaluationFailed"
    assert definition["States"]["ReevaluationFailed"]["Type"] == "Fail"


def test_every_placeholder_of_the_definition_is_substituted_by_the_template():
    text = ASL.read_text()
    machine = load_template()["Resources"]["ReevaluateStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "src/statemachines/reevaluate.asl.json"
    for name in machine["DefinitionSubstitutions"]:
        assert "${" + name + "}" in text
    assert text.count("${") == sum(text.count("${" + n + "}") for n in machine["DefinitionSubstitutions"])


class RecordingWorkflow:
    """Step Functions' StartExecution as the application sees it: refuses a name it has seen."""

    def __init__(self):
        self.started: dict[str, dict] = {}

    def start(self, name, payload):
        if name in self.started:
            return False
        self.started[name] = payload
        return True


class MemoryStore:
    def __init__(self):
        self.objects = {}

    def write(self, bucket, key, body, content_type):
        self.objects[key] = body

    def read(self, ref):
        return self.objects[ref.key]


def test_three_hundred_thousand_changed_items_are_split_into_runs_that_fit_the_history_limit():
    from stock_pipeline.domain.reevaluation import CHUNKS_PER_EXECUTION
    from stock_pipeline.reevaluation import start_reevaluation

    changes = [ThresholdChange(f"item-{i}", None, 10) for i in range(300_000)]
    ref = ObjectRef("b", "restock_thresholds/2026/11/23/restock_thresholds.json", "etag-big")
    workflow, store = RecordingWorkflow(), MemoryStore()
    assert start_reevaluation(ref, changes, store=store, workflow=workflow)
    # three runs of 1,000 chunks, named after the file and their part, every chunk in exactly one
    assert sorted(workflow.started) == [f"{execution_name(ref)}-{n}" for n in (1, 2, 3)]
    chunks = [c for payload in workflow.started.values() for c in payload["chunks"]]
    assert sorted(chunks) == chunk_numbers(300_000) and len(chunks) == 3_000
    assert all(len(p["chunks"]) <= CHUNKS_PER_EXECUTION and p["parts"] == 3 for p in workflow.started.values())
    assert all(len(json.dumps(p).encode()) < 256 * 1024 for p in workflow.started.values())
    # a redelivered file asks for the same runs, which Step Functions refuses
    assert not start_reevaluation(ref, changes, store=store, workflow=workflow)
