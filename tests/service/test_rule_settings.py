"""Local alert timescales are settings: `CASETRAIL_RULE_<RULE>_<NAME>`, checked at start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from domain.rules import LOCAL_TIMESCALES
from service.clock import SettableClock
from service.settings import Settings
from tests.support import LOCAL_AUTHORITY, event, open_case

CP_VISITS = "CASETRAIL_RULE_CP_VISIT_OVERDUE_WORKING_DAYS"


def test_settings_when_rule_variable_set_then_that_timescale_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CP_VISITS, "5")
    assert Settings().rule_timescales == {"cp_visit_overdue_working_days": 5}


@pytest.mark.parametrize("value", ["0", "-3", "ten", "1.5", "99999"])
def test_settings_when_rule_variable_not_a_sensible_number_then_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(CP_VISITS, value)
    with pytest.raises(ValidationError, match=CP_VISITS):
        Settings()


@pytest.mark.parametrize("value", ["0", "-5", "99999", "1.5", '"7"', "true"])
def test_settings_when_timescales_map_value_not_a_sensible_number_then_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # Given the timescales' map holding a value its own variable would refuse
    monkeypatch.setenv("CASETRAIL_RULE_TIMESCALES", f'{{"cp_visit_overdue_working_days": {value}}}')
    # When the settings are read
    # Then they are refused, naming the map's entry, as the variable itself would be
    with pytest.raises(ValidationError, match="cp_visit_overdue_working_days"):
        Settings()


def test_settings_when_timescales_map_names_no_local_timescale_then_refused_naming_the_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASETRAIL_RULE_TIMESCALES", '{"cp_visits": 7}')
    with pytest.raises(ValidationError, match="CASETRAIL_RULE_TIMESCALES: unknown rule timescales"):
        Settings()


@pytest.mark.parametrize(
    "name",
    [
        "CASETRAIL_RULE_CP_VISIT_OVERDUE_DAYS",  # misspelt: the unit left out
        "CASETRAIL_RULE_ICPC_OVERDUE_WORKING_DAYS",  # a statutory timescale, fixed in its module
    ],
)
def test_settings_when_rule_variable_names_no_local_timescale_then_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Given a rule variable that no local timescale reads
    monkeypatch.setenv(name, "5")
    # When the settings are read, as every command does at start
    # Then they are refused, naming the variable, rather than the default silently applying
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_settings_when_timescales_variable_in_lower_case_then_read_as_in_upper_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the timescales' map set under a lower-case name (settings are read whatever the case)
    monkeypatch.setenv("casetrail_rule_timescales", '{"cp_visit_overdue_working_days": 7}')
    # When the settings are read
    # Then they are not refused as a stray rule variable, and the map applies
    assert Settings().rule_timescales == {"cp_visit_overdue_working_days": 7}


def test_settings_when_every_local_timescale_then_each_has_its_own_variable() -> None:
    names = {t.setting for t in LOCAL_TIMESCALES.values()}
    assert CP_VISITS in names
    assert len(names) == len(LOCAL_TIMESCALES)
    assert all(n.startswith("CASETRAIL_RULE_") for n in names)


def test_alerts_when_local_timescale_shortened_then_due_sooner(
    start_app: Callable[..., TestClient], clock: SettableClock
) -> None:
    # Given a local rule of a CP visit every 2 working days, and a plan started on 2 November
    app = start_app(rule_timescales={"cp_visit_overdue_working_days": 2})
    jwt = app.app.state.tokens.mint(  # type: ignore[attr-defined]
        sub="ann", name="Ann", agency=LOCAL_AUTHORITY, roles=["practitioner"]
    )
    csc = {"Authorization": f"Bearer {jwt}"}
    clock.set(datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    case_id, _ = open_case(
        app,
        csc,
        event("ReferralAccepted", "2026-11-02"),
        event("ChildProtectionPlanStarted", "2026-11-02"),
        occurred_at="2026-11-02",
    )

    # Then the CP visit falls due after 2 working days, not 10
    alerts = app.get(f"/cases/{case_id}/alerts", headers=csc).json()["alerts"]
    [visit] = [a for a in alerts if a["rule"] == "cp-visit-overdue"]
    assert visit["due_at"] == "2026-11-04T23:59:59.999999Z"


def test_settings_when_shown_then_secrets_are_not() -> None:
    # Given settings holding a JWT secret and a database password
    settings = Settings(
        jwt_secret="s" * 32 + "hunter2",
        database_url="postgresql://casetrail:hunter2@db.internal:5432/casetrail",
    )

    # When they are printed or logged
    shown = f"{settings!r} {settings}"

    # Then neither secret appears, though both are used
    assert "hunter2" not in shown
    assert settings.jwt_secret.get_secret_value().endswith("hunter2")
    assert settings.database_url.get_secret_value().endswith("/casetrail")
