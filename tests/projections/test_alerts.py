"""The alerts read model: evaluated as events arrive, and refreshed as deadlines pass."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from projections.alert_search import AlertFilters, AlertSearch
from projections.alerts import AlertList
from projections.case_search import Visibility
from projections.runner import Runner
from service.cli import app
from service.clock import SettableClock
from service.records import CaseRecords
from service.settings import Settings
from tests.projections.support import environment, open_case, record
from tests.support import LOCAL_AUTHORITY, event, payload

# Thursday 26 November 2026, noon: a contact today is due by the end of Friday 27th.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class World:
    records: CaseRecords
    runner: Runner
    search: AlertSearch
    clock: SettableClock

    def alerts(self, **filters: str) -> list[tuple[str, str]]:
        """The open alerts of the rule these tests follow (a contact recorded days late also
        raises `late-recording`, of no interest here)."""
        self.runner.run_once()
        page = self.search.list_alerts(AlertFilters(**{"rule": "decision-overdue", **filters}))
        return [(a.rule, a.status) for a in page.alerts]


@pytest.fixture
def world(settings: Settings, clock: SettableClock) -> Iterator[World]:
    records = CaseRecords(settings, clock)
    runner = Runner(settings, records, [AlertList()])
    yield World(records, runner, AlertSearch(runner.store), clock)
    runner.close()
    records.close()


def _contact(day: str = "2026-11-26", contact_id: str = "C-1") -> dict[str, object]:
    return event("ContactReceived", day, data=payload("ContactReceived", contact_id=contact_id))


def test_alerts_when_contact_received_then_pending_alert_with_who_holds_the_case(
    world: World,
) -> None:
    # Given a contact received today
    open_case(world.records, "Amy Smith", "2016-03-14", _contact())

    # When the runner applies it
    world.runner.run_once()

    # Then the model holds one pending alert, saying what is due and by when
    [alert] = world.search.list_alerts(AlertFilters(rule="decision-overdue")).alerts
    assert (alert.rule, alert.status, alert.severity) == ("decision-overdue", "pending", "warning")
    assert alert.due_at == "2026-11-27T23:59:59.999999Z"
    assert "due by 27 November 2026" in alert.message
    assert alert.local_authority == LOCAL_AUTHORITY


def test_refresh_when_deadline_passes_with_no_new_event_then_breached(world: World) -> None:
    # Given a pending alert
    open_case(world.records, "Amy Smith", "2016-03-14", _contact())
    assert world.alerts() == [("decision-overdue", "pending")]

    # When the deadline passes with no new event, and the model is refreshed
    world.clock.set(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    refreshed = world.runner.refresh("alerts")

    # Then the alert is breached
    assert refreshed == 1
    assert world.alerts() == [("decision-overdue", "breached")]
    # And a second refresh has nothing to do
    assert world.runner.refresh("alerts") == 0


def test_refresh_when_deadline_not_yet_passed_then_nothing_re_evaluated(world: World) -> None:
    open_case(world.records, "Amy Smith", "2016-03-14", _contact())
    world.runner.run_once()
    world.clock.set(NOW + timedelta(hours=30))  # Friday evening: still due today
    assert world.runner.refresh("alerts") == 0
    assert world.alerts() == [("decision-overdue", "pending")]


def test_alerts_when_decision_recorded_then_alert_leaves_the_open_list(world: World) -> None:
    # Given an overdue contact
    case_id = open_case(world.records, "Amy Smith", "2016-03-14", _contact("2026-11-20"))
    assert world.alerts() == [("decision-overdue", "breached")]

    # When the decision is recorded
    record(
        world.records,
        case_id,
        event(
            "ContactDecisionMade",
            "2026-11-26",
            data=payload("ContactDecisionMade", contact_id="C-1"),
        ),
    )

    # Then the open list no longer has it
    assert world.alerts() == []


def test_alerts_when_filtered_then_only_matching_alerts(world: World) -> None:
    open_case(world.records, "Amy Smith", "2016-03-14", _contact("2026-11-20"))
    open_case(world.records, "Ben Jones", "2015-01-01", _contact("2026-11-26"))
    assert sorted(world.alerts()) == [
        ("decision-overdue", "breached"),
        ("decision-overdue", "pending"),
    ]
    assert world.alerts(status="breached") == [("decision-overdue", "breached")]
    assert world.alerts(severity="critical") == []
    assert world.alerts(rule="no-allocated-worker") == []
    assert ("late-recording", "breached") in world.alerts(rule="late-recording")


def test_alerts_when_another_authoritys_caller_then_none_of_these(world: World) -> None:
    open_case(world.records, "Amy Smith", "2016-03-14", _contact())
    world.runner.run_once()
    others = Visibility(agency="csc:wessex")
    owner = Visibility(agency=LOCAL_AUTHORITY)
    assert world.search.list_alerts(visible=others).alerts == []
    assert len(world.search.list_alerts(visible=owner).alerts) >= 1


def test_alerts_refresh_cli_when_deadline_passed_then_re_evaluates(
    world: World, settings: Settings
) -> None:
    # Given a pending alert in the model, and a deadline that has since passed (the CLI runs
    # on the system clock: the contact is from last year)
    open_case(world.records, "Amy Smith", "2016-03-14", _contact("2025-11-26"))
    world.clock.set(datetime(2025, 11, 26, 12, 0, tzinfo=UTC))
    assert world.alerts() == [("decision-overdue", "pending")]

    # When `casetrail alerts refresh` runs
    result = CliRunner().invoke(app, ["alerts", "refresh"], env=environment(settings))

    # Then it re-evaluated the case, and the alert is breached
    assert result.exit_code == 0, result.output
    assert "re-evaluated 1 cases" in result.output
    page = world.search.list_alerts(AlertFilters(rule="decision-overdue"))
    assert [a.status for a in page.alerts] == ["breached"]
