"""Retries that race the original request: every copy of a batch answers with its results; and
writers whose cached case is behind the store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from service.access import Gatekeeper
from service.clock import SettableClock
from service.errors import CaseNotFoundError, Forbidden, VersionMismatch
from service.integrity import verify_case
from service.principal import Principal
from service.records import CaseRecords
from service.settings import Settings
from tests.projections.support import SCHOOL, WORKER
from tests.support import append, event, open_case, payload

Headers = dict[str, str]


def _race(send: Callable[[], Any], copies: int = 6) -> list[Any]:
    start = threading.Barrier(copies)
    results: list[Any] = [None] * copies

    def run(i: int) -> None:
        start.wait()
        results[i] = send()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_open_case_when_same_batch_sent_concurrently_then_one_created_and_the_rest_replays(
    client: TestClient, headers: Headers
) -> None:
    for _ in range(5):
        # Given one opening batch, sent six times at once (a client retrying impatiently)
        batch = {"events": [event("CaseOpened"), event("ContactReceived")]}

        # When
        responses = _race(lambda b=batch: client.post("/cases", json=b, headers=headers))

        # Then exactly one created it and every other copy is a replay of the same results
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 5 + [201], [r.text for r in responses]
        assert len({r.text.replace('"replayed":true', '"replayed":false') for r in responses}) == 1


def test_append_when_same_if_match_batch_sent_concurrently_then_replays_not_412(
    client: TestClient, headers: Headers
) -> None:
    case_id, _ = open_case(client, headers)
    for version in range(1, 5):
        # Given one batch conditioned on the current version, sent six times at once
        batch = [event("CaseNoteRecorded")]
        conditioned = {**headers, "If-Match": f'"{version}"'}

        # When
        responses = _race(lambda b=batch, h=conditioned: append(client, h, case_id, *b))

        # Then one stored it; the copies are replays of it, not precondition failures
        assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
        assert {r.json()["events"][0]["version"] for r in responses} == {version + 1}


def test_replay_when_case_moved_on_then_answers_the_original_version(
    client: TestClient, headers: Headers
) -> None:
    # Given a batch that took the case to version 2, and a later append
    case_id, _ = open_case(client, headers)
    batch = [event("CaseNoteRecorded")]
    assert append(client, headers, case_id, *batch).status_code == 201
    assert append(client, headers, case_id, event("CaseNoteRecorded")).status_code == 201

    # When the first batch is sent again
    replay = append(client, headers, case_id, *batch)

    # Then the answer is the original one: version 2, ETag "2"
    assert replay.status_code == 200
    assert replay.json()["version"] == 2
    assert replay.headers["ETag"] == '"2"'


def test_snapshots_when_interval_zero_then_none_taken(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an application that snapshots every 2 events, and one configured not to snapshot
    snapshotting = CaseRecords(settings.model_copy(update={"snapshot_interval": 2}), clock)
    plain = CaseRecords(settings.model_copy(update={"snapshot_interval": 0}), clock)

    # When each opens a case with three events
    snapshotted = open_case_with(snapshotting, event("CaseNoteRecorded"), event("CaseNoteRecorded"))
    unsnapshotted = open_case_with(plain, event("CaseNoteRecorded"), event("CaseNoteRecorded"))

    # Then the first stored a snapshot (at the batch's last version, past its interval of 2);
    # the second has no snapshot store at all
    assert list(snapshotting.snapshot_states(snapshotted)) == [3]
    assert plain.snapshots is None
    assert plain.snapshot_states(unsnapshotted) == {}
    snapshotting.close()
    plain.close()


def _behind(settings: Settings, clock: SettableClock) -> tuple[CaseRecords, CaseRecords, UUID]:
    """Two processes' use cases on one store, each with its own cache (two `serve` workers), and
    a case the first has cached at version 2 and the second has since taken to version 3."""
    first, second = CaseRecords(settings, clock), CaseRecords(settings, clock)
    case_id = open_case_with(first, event("CaseNoteRecorded"))
    second.record(case_id, [event("CaseNoteRecorded")], by=WORKER)
    return first, second, case_id


def test_append_when_another_worker_wrote_since_cached_then_chains_after_its_events(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a case the first worker cached at version 2, now at version 3 by the second
    first, second, case_id = _behind(settings, clock)

    # When the first, whose cache still holds version 2, appends without If-Match
    result = first.record(case_id, [event("CaseNoteRecorded")], by=WORKER)

    # Then the event lands after the second worker's, and the chain verifies
    assert result.version == 4
    assert verify_case(first, case_id).ok
    assert [e.version for e in first.events_of(case_id)] == [1, 2, 3, 4]
    first.close()
    second.close()


def test_if_match_when_cache_behind_the_store_then_judged_on_the_current_version(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a case the first worker cached at version 2, now at version 3 by the second
    first, second, case_id = _behind(settings, clock)

    # When the first appends If-Match "2" (stale), then If-Match "3" (current)
    with pytest.raises(VersionMismatch, match="at version 3, not 2"):
        first.record(case_id, [event("CaseNoteRecorded")], by=WORKER, expected=2)
    result = first.record(case_id, [event("CaseNoteRecorded")], by=WORKER, expected=3)

    # Then the stale one is refused with the store's version, and the current one stored
    assert result.version == 4
    assert first.current_version(case_id) == 4
    first.close()
    second.close()


def _moved_away(
    settings: Settings, clock: SettableClock, batch: list[dict[str, Any]]
) -> tuple[CaseRecords, CaseRecords, UUID]:
    """Two workers, and a case Barsetshire opened and appended `batch` to through the first
    (which caches it at version 2), whose opening the second has since corrected to another
    authority (version 3)."""
    first, second = CaseRecords(settings, clock), CaseRecords(settings, clock)
    opened = event("CaseOpened")
    case_id = first.open_case(None, [opened], by=WORKER).case_id
    first.record(case_id, batch, by=WORKER)
    moved = {**opened["data"], "local_authority": "csc:wessex"}
    correction = event("EntryCorrected", data=payload("EntryCorrected", opened["id"], data=moved))
    second.record(case_id, [correction], by=WORKER)
    return first, second, case_id


@pytest.mark.parametrize("resent", [False, True], ids=["new batch", "replay"])
def test_write_when_owner_changed_since_cached_then_judged_on_the_current_case(
    settings: Settings, clock: SettableClock, resent: bool
) -> None:
    # Given a case the first worker cached as Barsetshire's, with a batch Barsetshire stored,
    # moved since to another authority by the second
    stored = [event("CaseNoteRecorded")]
    first, second, case_id = _moved_away(settings, clock, stored)

    # When Barsetshire's worker posts a new batch through the first, or sends the stored again
    batch = stored if resent else [event("CaseNoteRecorded")]
    grant = Gatekeeper(first).check_write(WORKER, case_id, batch, opening=False)
    if resent:
        # Then the batch it stored is its replay, with the results it was first given
        result = first.record(case_id, batch, by=WORKER, check=grant)
        assert (result.replayed, result.version) == (True, 2)
    else:
        # Then a new batch is refused as the case now stands
        with pytest.raises(CaseNotFoundError):
            first.record(case_id, batch, by=WORKER, check=grant)

    # And nothing is stored
    assert first.current_version(case_id) == 3
    first.close()
    second.close()


def test_partner_write_when_involved_since_cached_then_allowed(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a case the first worker cached at version 2, with which the second has since
    # recorded a school's involvement
    first, second = CaseRecords(settings, clock), CaseRecords(settings, clock)
    case_id = open_case_with(first, event("CaseNoteRecorded"))
    involved = payload("AgencyInvolvementStarted", agency=SCHOOL)
    second.record(case_id, [event("AgencyInvolvementStarted", data=involved)], by=WORKER)
    school = Principal("dsl", "Mrs Jones", SCHOOL, ("practitioner",))

    # When the school posts a concern through the first, whose cache has it uninvolved
    batch = [event("ConcernObserved")]
    grant = Gatekeeper(first).check_write(school, case_id, batch, opening=False)
    result = first.record(case_id, batch, by=school, check=grant)

    # Then it is judged on the case as it stands, and stored after the second worker's event
    assert result.version == 4
    first.close()
    second.close()


class FromVersion:
    """A write check that lets a batch follow only version `first` of the case or a later one
    (as a partner's involvement recorded at that version would)."""

    def __init__(self, first: int) -> None:
        self.first = first

    def confirm(self, owner: str, version: int) -> None:
        if version < self.first:
            raise Forbidden(f"not before version {self.first}")


def test_write_when_refused_on_the_cached_case_then_judged_again_as_stored(
    settings: Settings, clock: SettableClock
) -> None:
    # Given a case the first worker cached at version 2, now at version 3 by the second
    first, second, case_id = _behind(settings, clock)

    # When the first appends with a check that refuses version 2 and allows version 3
    result = first.record(case_id, [event("CaseNoteRecorded")], by=WORKER, check=FromVersion(3))

    # Then it is judged on the case as stored, and appended after it
    assert result.version == 4
    first.close()
    second.close()


@pytest.mark.parametrize("expected", [None, 2])
def test_append_when_cache_behind_and_no_time_to_retry_then_still_judged_on_the_store(
    settings: Settings, clock: SettableClock, expected: int | None
) -> None:
    # Given two workers that never retry a lost race, the first with the case cached behind
    no_retries = settings.model_copy(update={"append_retry_seconds": 0.0})
    first, second, case_id = _behind(no_retries, clock)

    # When the first appends, without If-Match or with a stale one
    batch = [event("CaseNoteRecorded")]
    if expected is None:
        # Then a stale cache is not a lost race: the append is stored after the second's
        assert first.record(case_id, batch, by=WORKER).version == 4
    else:
        # Then the stale If-Match is a 412 with the current version, not a busy store
        with pytest.raises(VersionMismatch, match="at version 3, not 2"):
            first.record(case_id, batch, by=WORKER, expected=expected)
    first.close()
    second.close()


def open_case_with(records: CaseRecords, *more: dict[str, Any]) -> UUID:
    opened = event("CaseOpened")
    return records.open_case(None, [opened, *more], by=WORKER).case_id
