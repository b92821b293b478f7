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
