"""An app, once closed, is gone: nothing in the process keeps it or its stores alive."""

from __future__ import annotations

import gc
import weakref

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.clock import SettableClock
from service.settings import Settings


def test_app_when_closed_then_nothing_keeps_it_or_its_stores_alive(
    settings: Settings, clock: SettableClock
) -> None:
    # Given an app that answered on every operations route and was then closed
    app = create_app(settings, clock)
    with TestClient(app) as client:
        for path in ("/health", "/ready", "/metrics"):
            assert client.get(path).status_code == 200, path
    records, metrics = weakref.ref(app.state.records), weakref.ref(app.state.metrics)
    # When the last reference to it is dropped
    del app, client
    gc.collect()
    # Then the app's stores and metrics are collected with it (a process that makes apps, such
    # as this test suite, does not keep each one it made)
    assert records() is None
    assert metrics() is None
