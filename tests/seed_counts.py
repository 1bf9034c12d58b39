"""What a generated seed should import as, counted from the seed itself (not from a run).

Tests compare the importer's numbers with these, so a changed generator or importer shows
up as a mismatch instead of a stale number copied from an earlier run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ImportCounts:
    """The client-import plan a seed implies, from its firm list and anomaly lists."""

    firms: int
    conflicts: int
    to_link: int
    to_create: int
    not_in_register: int
    bad_check_digit: int
    no_view: int
    unviewable_create: int = 0
    """Create rows of firms without View: confirm leaves them out unless --include."""
    unviewable_link: int = 0

    @property
    def create_selected(self) -> int:
        """The creates confirm applies by default."""
        return self.to_create - self.unviewable_create

    @property
    def link_selected(self) -> int:
        return self.to_link - self.unviewable_link

    @property
    def linked_after_confirm(self) -> int:
        """Every firm but the conflicting ones and those without View ends up linked."""
        return self.create_selected + self.link_selected


def import_counts(seed: dict[str, Any]) -> ImportCounts:
    """Count the plan from the seed: duplicate codes conflict, pre-existing clients link."""
    anomalies = seed["anomalies"]
    firms = len(seed["trigon"]["firms"])
    conflicts = len({firm for group in anomalies["duplicate_code"] for firm in group})
    to_link = len(anomalies["existing_uku_clients"])
    bad = len(anomalies["bad_check_digit"])
    conflicting = {firm for group in anomalies["duplicate_code"] for firm in group}
    linking = {row["firm"] for row in anomalies["existing_uku_clients"]}
    unviewable = set(anomalies["no_view"]) - conflicting
    return ImportCounts(
        unviewable_create=len(unviewable - linking),
        unviewable_link=len(unviewable & linking),
        firms=firms,
        conflicts=conflicts,
        to_link=to_link,
        to_create=firms - conflicts - to_link,
        not_in_register=len(anomalies["missing_from_register"]) + bad,
        bad_check_digit=bad,
        no_view=len(anomalies["no_view"]),
    )
