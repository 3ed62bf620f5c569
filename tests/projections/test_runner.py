"""The runner: exactly-once application, leader election and take-over, status and lag."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from projections.cases import CaseList, CaseRows, CaseTables
from projections.runner import Runner, give_way
from projections.store import ReadModelStore
from service.clock import SettableClock
from service.records import CaseRecords
from service.settings import Settings
from tests.projections.counting import Boom, Counting
from tests.projections.support import dump, open_case, record, worker
from tests.support import event

ROOT = Path(__file__).resolve().parents[2]


def applied_positions(runner: Runner) -> Counter[int]:
    table = runner.tables["counting"].applied
    with runner.store.begin_read() as conn:
        return Counter(int(p) for p in conn.execute(select(table.c.position)).scalars())


def log_positions(records: CaseRecords) -> list[int]:
    return [n.id for n in records.recorder.select_notifications(0, 100_000)]


def write_history(records: CaseRecords, cases: int = 6, notes: int = 3) -> None:
    for i in range(cases):
        case_id = open_case(records, f"Child {i}")
        record(records, case_id, *(event("CaseNoteRecorded") for _ in range(notes)))


def test_run_once_when_events_logged_then_each_applied_once_and_position_is_newest(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a log of 24 events
    records = CaseRecords(settings, clock)
    write_history(records)
    with Runner(settings, records, [Counting()], page_size=5) as runner:
        # When the runner catches up, and again with nothing new
        applied = runner.run_once()
        again = runner.run_once()

        # Then every event was applied once, in pages, and the position is the log's newest
        assert applied == 24 and again == 0
        assert applied_positions(runner) == Counter(log_positions(records))
        [status] = runner.status()
        assert (status.position, status.lag, status.running) == (
            max(log_positions(records)),
            0,
            True,
        )
    records.close()


class SecondCounting(Counting):
    """Another counting model, with its own table."""

    name = "counting_second"
    table_name = "test_counting_second_applied"


def test_run_once_when_one_model_has_a_long_backlog_then_the_other_is_not_held_behind_it(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a log of 24 events, and two read models both behind it (say one slow to apply, under
    # a stream of appends that keeps its backlog long)
    records = CaseRecords(settings, clock)
    write_history(records)
    first, second = Counting(), SecondCounting()
    order: list[str] = []
    for model in (first, second):
        apply = model.apply

        def recorded(*args: Any, _apply: Any = apply, _name: str = model.name, **kw: Any) -> None:
            order.append(_name)
            _apply(*args, **kw)

        model.apply = recorded  # type: ignore[method-assign]
    with Runner(settings, records, [first, second], page_size=5) as runner:
        # When the runner catches up
        applied = runner.run_once()

        # Then the models took pages in turn: neither waited for the other's whole backlog
        assert applied == 48
        assert order[:4] in (
            ["counting", "counting_second"] * 2,
            ["counting_second", "counting"] * 2,
        )
        # And each applied every event once
        assert all(status.lag == 0 for status in runner.status())
    records.close()


def test_run_once_when_one_model_current_and_another_far_behind_then_the_current_one_keeps_up(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a log of 25 events, one model current with it and another at its start (say one that
    # gained a table and applies the whole log again)
    records = CaseRecords(settings, clock)
    write_history(records)
    case_id = open_case(records, "Amy Smith")
    current, behind = Counting(), SecondCounting()
    with Runner(settings, records, [current, behind], page_size=5) as runner:
        while runner.apply_page(current.name):
            pass
        # And a stream of appends: one more event after each page the model behind applies
        positions: list[int] = []
        apply = behind.apply

        def apply_then_append(*args: Any, **kw: Any) -> None:
            apply(*args, **kw)
            record(records, case_id, event("CaseNoteRecorded"))
            positions.append(runner.store.current(current.name) or 0)

        behind.apply = apply_then_append  # type: ignore[method-assign]

        # When the runner catches both up
        runner.run_once()

        # Then the current model kept up with the appends while the other worked through its
        # backlog, rather than waiting for it to finish
        assert positions[-1] > positions[0]
        assert len(set(positions)) > len(positions) // 2
        # And, the appends over, both end current
        behind.apply = apply  # type: ignore[method-assign]
        runner.run_once()
        assert all(status.lag == 0 for status in runner.status())
    records.close()


def test_run_once_when_batch_fails_after_some_rows_then_rolled_back_and_reapplied_once(
    settings: Settings, clock: SettableClock
) -> None:
    # Given 24 events and a model that fails after writing 3 rows of its second page
    records = CaseRecords(settings, clock)
    write_history(records)
    model = Counting()
    with Runner(settings, records, [model], page_size=10) as runner:
        runner.apply_page("counting")
        first = runner.store.current("counting")
        model.fail_after = 3

        # When the runner dies mid-batch
        with pytest.raises(Boom):
            runner.run_once()

        # Then nothing of the failed page stayed, and the position did not move
        assert runner.store.current("counting") == first
        assert sum(applied_positions(runner).values()) == 10

        # And the next run applies the whole page, and the rest, exactly once
        assert runner.run_once() == 14
        assert applied_positions(runner) == Counter(log_positions(records))
    records.close()


def test_case_list_when_write_fails_half_way_then_no_row_and_position_unchanged(
    settings: Settings, clock: SettableClock
) -> None:
    # Given three cases and a case list that fails after writing the rows of one of them
    class Failing(CaseList):
        fail = True

        def write(self, conn: Connection, tables: CaseTables, rows: Sequence[CaseRows]) -> None:
            super().write(conn, tables, rows[:1])
            if self.fail:
                self.fail = False
                raise Boom("after the first case's rows")
            super().write(conn, tables, rows)

    records = CaseRecords(settings, clock)
    for name in ("Amy", "Ben", "Cara"):
        open_case(records, name)
    with Runner(settings, records, [Failing()]) as runner:
        with pytest.raises(Boom):
            runner.run_once()
        # Then the first case's rows were rolled back with the position
        assert runner.store.current("cases") == 0
        assert all(rows == [] for rows in dump(runner.store, runner.models["cases"]).values())

        # And the next run writes all three
        assert runner.run_once() == 3
        rows = dump(runner.store, runner.models["cases"])["casetrail_cases"]
        assert len(rows) == 3
    records.close()


def test_runner_when_process_dies_mid_batch_then_lock_freed_and_successor_applies_once(
    settings: Settings, clock: SettableClock
) -> None:
    # Given 24 events, and a runner process that leads, writes 7 rows of a page, and dies
    records = CaseRecords(settings, clock)
    write_history(records)
    env = {
        **os.environ,
        "CASETRAIL_DATA_DIR": str(settings.data_dir),
        "CASETRAIL_DATABASE_URL": settings.database_url_text,
        "CASETRAIL_POSTGRES_SCHEMA": settings.postgres_schema,
    }
    script = (
        "from projections.runner import Runner\n"
        "from service.records import CaseRecords\n"
        "from service.settings import Settings\n"
        "from tests.projections.counting import Counting\n"
        "s = Settings()\n"
        "Runner(s, CaseRecords(s), [Counting(exit_after=7)], page_size=10).run_once()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr.decode()

    # When another runner starts
    with Runner(settings, records, [Counting()], page_size=10) as runner:
        # Then it is elected (the dead leader's lock went with it) and applies each event once
        assert runner.run_once() == 24
        assert runner.is_leader("counting")
        assert applied_positions(runner) == Counter(log_positions(records))
    records.close()


def test_two_runners_when_started_at_once_then_only_one_applies(
    settings: Settings, clock: SettableClock
) -> None:
    # Given events in the log and two runners
    records = CaseRecords(settings, clock)
    write_history(records)
    runners = [Runner(settings, records, [Counting()], page_size=7) for _ in range(2)]
    start = threading.Barrier(2)
    applied: dict[int, int] = {}

    def go(i: int) -> None:
        start.wait()
        applied[i] = runners[i].run_once()

    # When both run at once
    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then one of them led and applied everything, the other nothing
    assert sorted(applied.values()) == [0, 24]
    assert sorted(r.is_leader("counting") for r in runners) == [False, True]
    assert applied_positions(runners[0]) == Counter(log_positions(records))
    for runner in runners:
        runner.close()
    records.close()


def test_second_runner_when_leader_closes_then_takes_over(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a leader and a follower
    records = CaseRecords(settings, clock)
    write_history(records, cases=2)
    leader = Runner(settings, records, [Counting()])
    follower = Runner(settings, records, [Counting()])
    assert leader.run_once() == 8
    write_history(records, cases=1)

    # Then the follower does nothing while the leader holds the lock
    assert follower.run_once() == 0
    assert not follower.is_leader("counting")
    assert follower.status(probe_locks=True)[0].running is True

    # When the leader closes, the follower takes over from the leader's position
    leader.close()
    assert follower.run_once() == 4
    assert follower.is_leader("counting")
    assert applied_positions(follower) == Counter(log_positions(records))
    follower.close()
    records.close()


def test_status_when_behind_then_reports_position_and_lag(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a runner that has applied one page of 24 events
    records = CaseRecords(settings, clock)
    write_history(records)
    newest = max(log_positions(records))
    with Runner(settings, records, [Counting()], page_size=10) as runner:
        runner.apply_page("counting")
        # Then the status shows the position, the log's and the lag between them
        [status] = runner.status()
        assert status.log_position == newest
        assert status.lag == newest - status.position
        assert status.lag == 14 if not settings.is_postgres else status.lag >= 14
    records.close()


def test_run_forever_when_events_arrive_then_applied_within_the_poll(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a runner polling in a thread
    records = CaseRecords(settings, clock)
    runner = Runner(settings, records, [CaseList()])
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop, 0.02))
    thread.start()
    try:
        # When a case is opened and given a worker
        case_id = open_case(records, "Amy")
        record(records, case_id, worker("Sam Patel", "North"))
        newest = max(log_positions(records))

        # Then the model reaches the log's position within a bounded wait
        reached, _ = runner.store.wait_for("cases", newest, timeout=10)
        assert reached
    finally:
        stop.set()
        thread.join(10)
        runner.close()
        records.close()
    assert not thread.is_alive()


class SlowCounting(Counting):
    """Counts, taking `seconds` over each page."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def apply(self, *args: Any, **kwargs: Any) -> None:
        time.sleep(self.seconds)
        super().apply(*args, **kwargs)


class StopAfter(threading.Event):
    """A stop signal that notes every wait of the runner and is set at the `rounds`th."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout if timeout is not None else float("inf"))
        if len(self.waits) >= self.rounds:
            self.set()
        return self.is_set()


def test_give_way_when_share_below_one_then_rests_in_proportion_else_not() -> None:
    stop = StopAfter(rounds=100)
    give_way(stop, 0.2, 0.25)
    give_way(stop, 2.0, 1.0)
    assert stop.waits == [pytest.approx(0.6)]
    with pytest.raises(ValueError):
        give_way(stop, 0.1, 0)


@pytest.mark.parametrize("share", [0.25, 1.0])
def test_run_forever_when_a_page_is_long_then_rests_to_keep_its_share(
    settings: Settings, clock: SettableClock, share: float
) -> None:
    # Given a log, and a runner whose model takes 0.2 s over a page
    records = CaseRecords(settings, clock)
    write_history(records, cases=2, notes=1)
    runner = Runner(settings, records, [SlowCounting(0.2)])
    stop = StopAfter(rounds=3)
    try:
        # When it runs (its first round applies the log in one page)
        runner.run_forever(stop, 0.05, max_share=share)
    finally:
        runner.close()
        records.close()
    # Then with a share of a quarter it rested three times the page's 0.2 s after it, and
    # otherwise only waited the poll interval between rounds
    if share == 1.0:
        assert stop.waits == [0.05] * 3
    else:
        assert stop.waits[0] >= 0.6
        assert 0.05 in stop.waits


def test_store_when_sqlite_then_read_models_in_their_own_wal_file(
    settings: Settings, clock: SettableClock
) -> None:
    if settings.is_postgres:
        pytest.skip("SQLite layout")
    records = CaseRecords(settings, clock)
    with Runner(settings, records, [CaseList()]) as runner:
        runner.run_once()
        assert runner.store.engine.url.database == str(settings.data_dir / "read_models.db")
        with runner.store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (settings.data_dir / "locks" / "cases.lock").exists()
    records.close()


def test_store_when_opened_twice_then_tables_shared(
    settings: Settings, clock: SettableClock
) -> None:
    records = CaseRecords(settings, clock)
    open_case(records, "Amy")
    with Runner(settings, records, [CaseList()]) as runner:
        runner.run_once()
    other = ReadModelStore(settings)
    assert other.positions()["cases"] == max(log_positions(records))
    other.close()
    records.close()
