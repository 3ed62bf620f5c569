"""Casetrail's benchmarks: the service over real HTTP beside the `eventsourcing` library alone.

Every figure is measured, never asserted: each service measure is printed with a baseline
measured in the same run (the library's own `Application`, or the service itself) and the ratio
service/baseline. `python -m bench` runs everything; `--quick` is a short smoke run.
"""
