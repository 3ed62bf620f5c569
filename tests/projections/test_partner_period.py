"""A partner's access after its involvement ends, decided in two places: for one case by
`domain.access.partner_involvement`, and for the case list by `partner_cutoff` (the same rule
turned into a date filter). They must agree on every day, leap days included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.access import partner_involvement
from domain.moments import LONDON, start_of_day
from domain.state import CaseState, Involvement
from projections.case_search import partner_cutoff

AGENCY = "school:st-marys"


def granted(ended: date, now: datetime, years: int) -> bool:
    state = CaseState.model_construct(
        involved_agencies=[
            Involvement(
                agency=AGENCY,
                involved_from="2001-01-01",
                involved_to=ended.isoformat(),
                named_by=["e1"],
            )
        ]
    )
    return partner_involvement(state, AGENCY, now=now, access_years=years) is not None


def listed(ended: date, now: datetime, years: int) -> bool:
    return ended >= partner_cutoff(now, years)


@settings(max_examples=500, deadline=None)
@given(
    ended=st.dates(min_value=date(2004, 1, 1), max_value=date(2030, 12, 31)),
    offset_days=st.integers(min_value=-3, max_value=3),
    seconds=st.integers(min_value=0, max_value=86_399),
    years=st.integers(min_value=1, max_value=7),
)
def test_partner_period_when_any_day_near_the_boundary_then_list_and_case_agree(
    ended: date, offset_days: int, seconds: int, years: int
) -> None:
    # Given a moment within a few days of the anniversary that ends access (London time)
    try:
        anniversary = ended.replace(year=ended.year + years)
    except ValueError:  # 29 February, in a year without one
        anniversary = date(ended.year + years, 2, 28)
    now = start_of_day(anniversary + timedelta(days=offset_days)) + timedelta(seconds=seconds)

    # Then the case list's filter and the case's own access decision agree
    assert listed(ended, now, years) == granted(ended, now, years)


@pytest.mark.parametrize(
    ("ended", "now_london", "expected"),
    [
        # Access lasts to the end of the London day `years` after the involvement ended
        (date(2020, 2, 29), datetime(2022, 2, 28, 23, 59, 59, tzinfo=LONDON), True),
        (date(2020, 2, 29), datetime(2022, 3, 1, 0, 0, 0, tzinfo=LONDON), False),
        (date(2021, 3, 27), datetime(2023, 3, 27, 23, 30, tzinfo=LONDON), True),  # BST night
        (date(2021, 3, 27), datetime(2023, 3, 28, 0, 30, tzinfo=LONDON), False),
    ],
)
def test_partner_period_when_leap_day_or_clock_change_then_both_say_the_same(
    ended: date, now_london: datetime, expected: bool
) -> None:
    now = now_london.astimezone(UTC)
    assert granted(ended, now, 2) is expected
    assert listed(ended, now, 2) is expected
