"""`make chaos` in small: the reference workload on a clean stack and on one with every kind of fault injected,
and every invariant held (docs/reliability.md has the full-size figures)."""

from __future__ import annotations

import pytest

from local_aws.chaos import invariants, one_run, workload
from local_aws.faults import CALL_FAULTS, FaultPlan

SEED = 5


@pytest.fixture(scope="module")
def runs():
    size = workload.Size.small()
    # higher rates than make chaos's, so that a workload this small meets every kind of fault
    plan = FaultPlan(seed=SEED, calls=0.06, kills=0.15, duplicates=0.3)
    return one_run("test-clean", size, SEED, None), one_run("test-faulted", size, SEED, plan)


def test_every_kind_of_fault_was_injected(runs):
    figures = runs[1]["faults"]
    assert set(figures["calls faulted"]) == set(CALL_FAULTS), figures
    assert figures["invocations killed"] > 0, figures
    assert figures["S3 events delivered twice at once"] > 0, figures
    assert runs[0]["faults"] == {}  # the clean run had none


def test_every_invariant_held_under_faults(runs):
    clean, faulted = runs
    verdicts = invariants.compare(clean["snapshot"], faulted["snapshot"])
    report = "\n".join(f"{v.name}: {v.held} {v.detail} {v.examples}" for v in verdicts)
    assert all(v.held for v in verdicts), report
    assert len(verdicts) == 11


def test_a_changed_outcome_is_a_violation(runs):
    """The comparison is not blind: a level off by one, a lost alert and a doubled history row are each caught."""
    import copy

    clean, faulted = runs[0]["snapshot"], copy.deepcopy(runs[1]["snapshot"])
    level = next(iter(faulted.levels))
    faulted.levels[level] += 1
    faulted.alerts.pop(next(iter(faulted.alerts)))
    faulted.history.append(dict(faulted.history[0]))
    violated = {v.name for v in invariants.compare(clean, faulted) if not v.held}
    assert violated == {
        "every warehouse level identical",
        "alerts: the same crossings, each e-mailed",
        "history: each change once, no gap",
    }
