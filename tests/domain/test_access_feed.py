"""What a partner agency's global feed carries of one case (`domain.access.partner_feed_view`)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.access import partner_feed_view
from tests.domain.rule_log import Log
from tests.support import payload

LA = "csc:barsetshire"
SCHOOL = "school:st-marys-primary"
HEALTH = "health:barsetshire-gp"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _shared_with(agency: str, concern: str | None = None) -> dict[str, object]:
    return payload(
        "InformationShared",
        concern,
        **{"with": [{"agency": agency}]},
        concern_event_ids=[concern] if concern else [],
    )


def _targeting(kind: str, target: str) -> dict[str, object]:
    return payload(kind, target)


def test_partner_feed_view_when_entries_written_and_shared_then_those_in_full_nothing_else() -> (
    None
):
    # Given a case with the school's own note, a concern CSC shared with the school, and a
    # note and a share with health that have nothing to do with the school
    log = Log()
    own = log.add("ConcernObserved", "2026-10-01", agency=SCHOOL)
    concern = log.add("ConcernObserved", "2026-10-02")
    share = log.add("InformationShared", "2026-10-03", data=_shared_with(SCHOOL, concern))
    csc_note = log.add("ChildsVoiceRecorded", "2026-10-04")
    to_health = log.add("InformationShared", "2026-10-05", data=_shared_with(HEALTH))

    # When the school's feed view is taken
    full, placeholders = partner_feed_view(log.events, SCHOOL, known_at=NOW)

    # Then its own entry, the share and the concern it names are in full; nothing else
    assert full == {own, concern, share}
    assert placeholders == frozenset()
    assert not {csc_note, to_health, log.events[0].id} & full


def test_partner_feed_view_when_shared_entry_is_restricted_then_placeholder_own_in_full() -> None:
    # Given a restricted concern CSC shared with the school, and the school's own restricted
    # note
    log = Log()
    concern = log.add("ConcernObserved", "2026-10-02", sensitivity="restricted")
    share = log.add("InformationShared", "2026-10-03", data=_shared_with(SCHOOL, concern))
    own = log.add("ConcernObserved", "2026-10-04", agency=SCHOOL, sensitivity="restricted")

    # When the school's feed view is taken
    full, placeholders = partner_feed_view(log.events, SCHOOL, known_at=NOW)

    # Then another agency's restricted entry is a placeholder; its own is in full
    assert placeholders == {concern}
    assert full == {share, own}


def test_partner_feed_view_when_shared_entry_corrected_annotated_or_retracted_then_follows() -> (
    None
):
    # Given minutes circulated to the school, then corrected and annotated by CSC; and a
    # concern shared with the school, then retracted
    log = Log()
    minutes = log.add(
        "MinutesCirculated",
        "2026-10-02",
        data=payload("MinutesCirculated", recipients=[{"name": "Ann Jones", "agency": SCHOOL}]),
    )
    corrected = log.add(
        "EntryCorrected",
        "2026-10-03",
        data={
            **_targeting("EntryCorrected", minutes),
            "data": payload("MinutesCirculated", recipients=[{"name": "A", "agency": SCHOOL}]),
        },
    )
    annotated = log.add("EntryAnnotated", "2026-10-03", data=_targeting("EntryAnnotated", minutes))
    concern = log.add("ConcernObserved", "2026-10-04")
    share = log.add("InformationShared", "2026-10-05", data=_shared_with(SCHOOL, concern))
    retracted = log.add("EntryRetracted", "2026-10-06", data=_targeting("EntryRetracted", concern))

    # When the school's feed view is taken
    full, _ = partner_feed_view(log.events, SCHOOL, known_at=NOW)

    # Then the minutes come with their correction and annotation; the retracted concern leaves
    # the feed and its retraction comes in its place, while the share itself stays
    assert full == {minutes, corrected, annotated, share, retracted}


def test_partner_feed_view_when_restricted_correction_of_shared_entry_then_both_placeholders() -> (
    None
):
    # Given minutes circulated to the school, corrected by CSC in a restricted correction
    log = Log()
    minutes = log.add(
        "MinutesCirculated",
        "2026-10-02",
        data=payload("MinutesCirculated", recipients=[{"name": "Ann Jones", "agency": SCHOOL}]),
    )
    correction = log.add(
        "EntryCorrected",
        "2026-10-03",
        data={
            **_targeting("EntryCorrected", minutes),
            "data": payload("MinutesCirculated", recipients=[{"name": "A", "agency": SCHOOL}]),
        },
        sensitivity="restricted",
    )

    # When the school's feed view is taken
    full, placeholders = partner_feed_view(log.events, SCHOOL, known_at=NOW)

    # Then neither the minutes nor the correction is shown in full
    assert placeholders == {minutes, correction}
    assert not placeholders & full


def test_partner_feed_view_when_restricted_shared_entry_retracted_then_retraction_placeholder() -> (
    None
):
    # Given a restricted concern CSC shared with the school, then retracted by CSC in a
    # retraction of normal sensitivity; and a CSC note never shared, also retracted
    log = Log()
    concern = log.add("ConcernObserved", "2026-10-02", sensitivity="restricted")
    share = log.add("InformationShared", "2026-10-03", data=_shared_with(SCHOOL, concern))
    note = log.add("ChildsVoiceRecorded", "2026-10-04")
    retraction = log.add("EntryRetracted", "2026-10-05", data=_targeting("EntryRetracted", concern))
    log.add("EntryRetracted", "2026-10-05", data=_targeting("EntryRetracted", note))

    # When the school's feed view is taken
    full, placeholders = partner_feed_view(log.events, SCHOOL, known_at=NOW)

    # Then the concern's retraction is a placeholder, like any act on a placeholder; the note's
    # retraction is not carried at all
    assert placeholders == {retraction}
    assert full == {share}


def test_partner_feed_view_when_entry_retracted_before_it_was_shared_then_no_retraction() -> None:
    # Given a concern CSC retracted on 3 October, then named in information shared with the
    # school on 4 October (recorded in that order)
    log = Log()
    concern = log.add("ConcernObserved", "2026-10-02")
    retraction = log.add("EntryRetracted", "2026-10-03", data=_targeting("EntryRetracted", concern))
    share = log.add("InformationShared", "2026-10-04", data=_shared_with(SCHOOL, concern))

    # When the school's feed view is taken
    full, placeholders = partner_feed_view(log.events, SCHOOL, known_at=NOW)

    # Then the school was never carried the concern, so it is not carried its retraction (whose
    # reason could say what the concern was about): only the share
    assert retraction not in full | placeholders
    assert full == {share}


def test_partner_feed_view_when_share_recorded_after_known_at_then_not_yet_shared() -> None:
    # Given a concern shared with the school in an entry recorded in December 2026
    log = Log()
    concern = log.add("ConcernObserved", "2026-10-02")
    share = log.add(
        "InformationShared", "2026-10-03", "2026-12-01", data=_shared_with(SCHOOL, concern)
    )

    # When the school's feed view is taken as known in November, then in December
    before, _ = partner_feed_view(log.events, SCHOOL, known_at=NOW)
    after, _ = partner_feed_view(log.events, SCHOOL, known_at=datetime(2026, 12, 2, tzinfo=UTC))

    # Then the concern is in its feed only once the share was recorded
    assert before == frozenset()
    assert after == {concern, share}
