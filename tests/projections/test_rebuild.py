"""Rebuilding a read model beside the live one: same rows as incremental updating, swapped in
while the old tables serve and a runner keeps going."""

from __future__ import annotations

import gc
import threading
from collections import Counter
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from projections.alerts import AlertList
from projections.case_search import CaseSearch, list_cases
from projections.cases import CaseList
from projections.collector import BULK_GC_THRESHOLD
from projections.locks import leader_lock
from projections.rebuild import RebuildInProgress, rebuild
from projections.runner import Runner, status
from service.clock import SettableClock
from service.records import CaseRecords
from service.settings import Settings
from tests.projections.counting import Counting
from tests.projections.support import dump, open_case, record, worker
from tests.support import event, payload


def history(records: CaseRecords, runner: Runner | None = None) -> list[UUID]:
    """Cases with corrections, retractions and out-of-order facts; the runner (if any) runs
    between the writes."""
    ids = []
    for i in range(5):
        case_id = open_case(records, f"Child {i}", f"201{i}-01-0{i + 1}")
        ids.append(case_id)
        record(
            records,
            case_id,
            event("ReferralAccepted", "2014-01-01"),
            worker(f"Worker {i}", "North", occurred_at="2014-01-02"),
            event("IdentifierLinked", data={"scheme": "nhs_number", "value": f"00{i}"}),
        )
        if runner is not None:
            runner.run_once()
    stored = records.events_of(ids[0])
    allocation = next(e for e in stored if e.type == "WorkerAllocated")
    record(records, ids[0], event("EntryRetracted", target=allocation.id))
    record(records, ids[1], event("CaseClosed", "2013-12-01"))  # before its referral
    record(records, ids[2], event("AgencyInvolvementStarted", "2015-01-01"))
    return ids


def test_rebuild_when_log_applied_incrementally_then_same_rows(
    settings: Settings, clock: SettableClock
) -> None:
    # Given the case list kept current page by page while the history was written
    records = CaseRecords(settings, clock)
    with Runner(settings, records, [CaseList()], page_size=3) as runner:
        history(records, runner)
        runner.run_once()
        model = runner.models["cases"]
        incremental = dump(runner.store, model)

        # When it is rebuilt from the log
        reports: list[tuple[int, int]] = []
        result = rebuild(
            settings,
            records,
            CaseList(),
            store=runner.store,
            page_size=4,
            progress=lambda done, total: reports.append((done, total)),
        )

        # Then the tables hold exactly the same rows, at the same position
        assert dump(runner.store, model) == incremental
        newest = records.recorder.max_notification_id()
        assert result.position == newest == runner.store.current("cases")
        assert reports[0] == (0, newest) and reports[-1] == (newest, newest)
        assert [d for d, _ in reports] == sorted(d for d, _ in reports)

        # And the runner carries on, on the new tables
        record(records, open_case(records, "After Rebuild"), event("CaseNoteRecorded"))
        assert runner.run_once() == 2
        assert "After Rebuild" in {
            c.child_name for c in CaseSearch(runner.store).list_cases(limit=100).cases
        }
    records.close()


def test_rebuild_when_run_twice_then_index_names_reused(
    settings: Settings, clock: SettableClock
) -> None:
    records = CaseRecords(settings, clock)
    history(records)
    with Runner(settings, records, [CaseList()]) as runner:
        runner.run_once()
        before = dump(runner.store, runner.models["cases"])
        for _ in range(2):
            rebuild(settings, records, CaseList(), store=runner.store)
        assert dump(runner.store, runner.models["cases"]) == before
        [found] = list_cases(runner.store, q="child 3").cases
        assert found.child_name == "Child 3"
    records.close()


def test_rebuild_when_old_tables_serving_and_runner_running_then_exactly_once(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a counting model kept current by a runner polling in a thread
    records = CaseRecords(settings, clock)
    history(records)
    runner = Runner(settings, records, [Counting()], page_size=5)
    runner.run_once()  # the live tables hold the history before the rebuild starts
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop, 0.01))
    thread.start()
    served: list[int] = []
    table = runner.tables["counting"].applied

    def during(done: int, total: int) -> None:
        # Writers keep appending, and the live tables keep answering, during the rebuild
        case_id = open_case(records, f"During {done}")
        record(records, case_id, event("CaseNoteRecorded"))
        with runner.store.begin_read() as conn:
            served.append(len(conn.execute(select(table.c.position)).all()))

    try:
        # When the model is rebuilt meanwhile
        rebuild(settings, records, Counting(), store=runner.store, page_size=7, progress=during)
        newest = records.recorder.max_notification_id()
        reached, _ = runner.store.wait_for("counting", newest or 0, timeout=20)
        assert reached
    finally:
        stop.set()
        thread.join(10)
        runner.close()

    # Then the old tables served throughout, and every event is in the new ones exactly once
    assert served and all(n > 0 for n in served)
    with runner.store.begin_read() as conn:
        applied = Counter(int(p) for p in conn.execute(select(table.c.position)).scalars())
    every = [n.id for n in records.recorder.select_notifications(0, 100_000)]
    assert applied == Counter(every)
    records.close()


def test_rebuild_when_another_rebuild_holds_the_lock_then_refused(
    settings: Settings, clock: SettableClock
) -> None:
    records = CaseRecords(settings, clock)
    held = leader_lock(settings, "cases.rebuild")
    assert held.try_acquire()
    try:
        with pytest.raises(RebuildInProgress):
            rebuild(settings, records, CaseList())
    finally:
        held.release()
    assert rebuild(settings, records, CaseList()).position == 0
    records.close()


def test_status_when_never_run_then_not_started_and_lag_is_whole_log(
    settings: Settings, clock: SettableClock
) -> None:
    records = CaseRecords(settings, clock)
    history(records)
    newest = records.recorder.max_notification_id()
    [before] = status(settings, records, ["cases"])
    assert (before.started, before.position, before.lag, before.running) == (
        False,
        0,
        newest,
        False,
    )
    with Runner(settings, records, [CaseList()]) as runner:
        runner.run_once()
        [after] = status(settings, records, ["cases"])
        assert (after.started, after.position, after.lag, after.running) == (
            True,
            newest,
            0,
            True,
        )
    records.close()


# --- property: rebuild == incremental, over random histories -------------------------------

DAYS = st.dates(min_value=date(2013, 6, 1), max_value=date(2020, 12, 31))
OPS = st.one_of(
    st.tuples(st.just("note"), DAYS),
    st.tuples(st.just("worker"), DAYS, st.sampled_from(["Ann", "Bo", "Cy"])),
    st.tuples(st.just("referral"), DAYS),
    st.tuples(st.just("close"), DAYS),
    st.tuples(st.just("reopen"), DAYS),
    st.tuples(st.just("cin"), DAYS),
    st.tuples(st.just("cin_end"), DAYS),
    st.tuples(st.just("ident"), DAYS, st.sampled_from(["1", "2 2", "3"])),
    st.tuples(st.just("agency"), DAYS, st.sampled_from(["school:a", "police:b"])),
    st.tuples(st.just("agency_end"), DAYS, st.sampled_from(["school:a", "police:b"])),
    st.tuples(st.just("rename"), DAYS, st.sampled_from(["Zed", "Yan"])),
    st.tuples(st.just("correct_worker"), DAYS, st.sampled_from(["Dee", "Eve"])),
    st.tuples(st.just("retract"), DAYS),
    st.tuples(st.just("restricted"), DAYS),
    st.tuples(st.just("contact"), DAYS, st.sampled_from(["C-1", "C-2"])),
    st.tuples(st.just("decision"), DAYS, st.sampled_from(["C-1", "C-2"])),
)
BATCHES = st.lists(st.lists(OPS, min_size=1, max_size=4), min_size=1, max_size=4)
CASES = st.lists(BATCHES, min_size=0, max_size=4)


def _event(op: tuple[Any, ...], stored: list[Any]) -> dict[str, Any] | None:
    kind, day = op[0], op[1].isoformat()
    simple = {
        "note": "CaseNoteRecorded",
        "referral": "ReferralAccepted",
        "close": "CaseClosed",
        "reopen": "CaseReopened",
        "cin": "ChildInNeedPlanStarted",
        "cin_end": "ChildInNeedPlanEnded",
    }
    if kind in simple:
        return event(simple[kind], day)
    if kind == "worker":
        return worker(op[2], f"Team {op[2]}", occurred_at=day)
    if kind == "restricted":
        return worker("Hidden", "Hidden", occurred_at=day, sensitivity="restricted")
    if kind == "ident":
        return event("IdentifierLinked", day, data={"scheme": "upn", "value": op[2]})
    if kind in ("agency", "agency_end"):
        name = "AgencyInvolvementStarted" if kind == "agency" else "AgencyInvolvementEnded"
        return event(name, day, data=payload(name, agency=op[2]))
    if kind == "rename":
        return event("PersonDetailsChanged", day, data={"name": op[2]})
    if kind in ("contact", "decision"):
        name = "ContactReceived" if kind == "contact" else "ContactDecisionMade"
        return event(name, day, data=payload(name, contact_id=op[2]))
    facts = [e for e in stored if e.type not in ("CaseOpened", "EntryCorrected", "EntryRetracted")]
    if kind == "correct_worker":
        allocations = [e for e in facts if e.type == "WorkerAllocated"]
        if not allocations:
            return None
        data = {
            "target_event_id": allocations[-1].id,
            "data": {"worker": op[2], "team": "Fixed", "reason": "typo"},
            "reason": "Wrong worker recorded",
        }
        return event("EntryCorrected", day, data=data)
    if not facts:
        return None
    return event("EntryRetracted", day, target=facts[0].id)


@pytest.mark.slow
@hypothesis_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cases=CASES, page_size=st.integers(1, 9), data=st.data())
def test_rebuild_when_random_history_then_equals_incremental(
    settings: Settings,
    clock: SettableClock,
    cases: list[list[list[tuple[Any, ...]]]],
    page_size: int,
    data: st.DataObject,
) -> None:
    # Given random histories written batch by batch, the runner running at random moments
    records = CaseRecords(settings, clock)
    with Runner(settings, records, [CaseList(), AlertList()], page_size=page_size) as runner:
        for batches in cases:
            case_id = open_case(records, "Child", "2012-01-01")
            for batch in batches:
                stored = records.events_of(case_id)
                made = [_event(op, stored) for op in batch]
                posted = [e for e in made if e is not None]
                if posted:
                    record(records, case_id, *posted)
                if data.draw(st.booleans(), label="run now"):
                    runner.run_once()
        runner.run_once()
        incremental = {name: dump(runner.store, model) for name, model in runner.models.items()}

        # When each model is rebuilt from the log
        for model in (CaseList(), AlertList()):
            rebuild(settings, records, model, store=runner.store, page_size=page_size + 3)

        # Then the rows are exactly the incremental ones
        assert {
            name: dump(runner.store, model) for name, model in runner.models.items()
        } == incremental
    records.close()


def test_rebuild_when_running_then_gc_walks_less_and_is_restored_after(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a log of a few cases
    records = CaseRecords(settings, clock)
    history(records)
    before = gc.get_threshold()
    seen: list[tuple[int, bool]] = []

    # When a rebuild reports its progress
    rebuild(
        settings,
        records,
        CaseList(),
        progress=lambda position, target: seen.append(
            (gc.get_threshold()[0], gc.get_freeze_count() > 0)
        ),
    )
    records.close()

    # Then it ran with the bulk threshold for the youngest generation and what existed before
    # frozen, and left both as they were
    assert seen and set(seen) == {(BULK_GC_THRESHOLD, True)}
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_last_versions_when_cases_interleave_then_each_newest_version_up_to_the_position(
    settings: Settings, clock: SettableClock
) -> None:
    # Given cases whose events interleave in the log
    records = CaseRecords(settings, clock)
    ids = history(records)
    log = records.recorder.select_notifications(0, 10_000)

    # When the newest versions are asked for up to each position
    for stop in (log[0].id, log[len(log) // 2].id, log[-1].id):
        expected: dict[UUID, int] = {}
        for notification in log:
            if notification.id <= stop:
                expected[UUID(str(notification.originator_id))] = notification.originator_version

        # Then they are exactly what reading the log up to it finds
        assert records.last_versions(stop) == expected
    assert set(records.last_versions(log[-1].id)) == set(ids)
    records.close()
