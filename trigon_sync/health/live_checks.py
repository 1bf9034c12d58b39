"""The checks ``doctor`` adds against Trigon and Uku: each takes an already built client
(or the error building it raised, or a skip reason), so nothing here opens a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from trigon_sync.errors import ExitCode, TrigonSyncError
from trigon_sync.health.checks import (
    Check,
    failed,
    from_error,
    listed,
    named,
    passed,
    plural,
    skipped,
)
from trigon_sync.http import clock_skew as skew
from trigon_sync.settings import naming
from trigon_sync.settings.config import Config
from trigon_sync.store.state import State

T = TypeVar("T")


def _attempt(name: str, title: str, call: Callable[[], T]) -> T | Check:
    """Run one remote call; any failure becomes a failed check instead of an exception."""
    try:
        return call()
    except TrigonSyncError as exc:
        return from_error(name, title, exc)
    except Exception as exc:  # one broken check must not stop the others
        return failed(
            name,
            title,
            f"unexpected error: {type(exc).__name__}: {exc}"[:300],
            "run `trigon-sync --verbose doctor` and report it",
            ExitCode.UNEXPECTED,
        )


def trigon_checks(state: State, trigon: Any) -> list[Check]:
    """Refresh, linked firms' reach, unimported firms.

    ``trigon`` is a :class:`~trigon_sync.trigon.TrigonClient`, the error building it raised,
    or a reason (text) to skip every Trigon check.
    """
    refresh_name, refresh_title = named("trigon.refresh")
    firms_name, firms_title = named("trigon.firms")
    new_name, new_title = named("trigon.unimported")
    if isinstance(trigon, str):
        return [
            skipped(refresh_name, refresh_title, trigon),
            skipped(firms_name, firms_title, trigon),
            skipped(new_name, new_title, trigon),
        ]
    if isinstance(trigon, TrigonSyncError):
        first = from_error(refresh_name, refresh_title, trigon)
        reason = "Trigon is not connected"
        return [
            first,
            skipped(firms_name, firms_title, reason),
            skipped(new_name, new_title, reason),
        ]
    user = _attempt(refresh_name, refresh_title, trigon.me)
    if isinstance(user, Check):
        reason = "the Trigon login refresh failed"
        return [
            user,
            skipped(firms_name, firms_title, reason),
            skipped(new_name, new_title, reason),
        ]
    who = f"{user.name} <{user.email}>" if user.name else user.email
    refresh = passed(refresh_name, refresh_title, f"{trigon.auth_proof}; signed in as {who}")
    listed = _attempt(firms_name, firms_title, trigon.list_firms)
    if isinstance(listed, Check):
        return [refresh, listed, skipped(new_name, new_title, "the firm list could not be read")]
    by_id = {firm.id: firm for firm in listed}
    return [refresh, _linked_firms(state, by_id), _unimported(state, listed)]


def _linked_firms(state: State, by_id: Mapping[str, Any]) -> Check:
    name, title = named("trigon.firms")
    if not state.links:
        return passed(name, title, "no linked firms to check")
    problems: list[str] = []
    for link in sorted(state.links.values(), key=lambda link: link.name):
        firm = by_id.get(link.trigon_id)
        label = f"{link.name} ({link.registration_code or link.trigon_id})"
        if firm is None:
            problems.append(f"{label}: not listed")
        elif not firm.viewable:
            problems.append(f"{label}: listed without View")
    if problems:
        return failed(
            name,
            title,
            f"{len(problems)} of {len(state.links)} linked firms cannot be read: "
            + listed(problems),
            "add List and View for these firms to the Trigon user's role in Trigon, then run "
            "`trigon-sync run-monthly` again (it redoes only the clients that failed)",
            ExitCode.PERMISSION,
        )
    return passed(name, title, f"all {len(state.links)} listed and viewable")


def _unimported(state: State, firms: Sequence[Any]) -> Check:
    name, title = named("trigon.unimported")
    # An ignored firm was left out on purpose (run-monthly does not announce it either).
    linked = {link.trigon_id for link in state.links.values()} | set(state.ignored)
    new = [firm for firm in firms if firm.id not in linked]
    if not firms:
        return failed(
            name,
            title,
            "the Trigon user can list no firms",
            "give the user's role List and View for the firms in Trigon",
            ExitCode.PERMISSION,
        )
    if new:
        hidden = sum(1 for firm in new if not firm.viewable)
        note = f" ({hidden} of them without View)" if hidden else ""
        return failed(
            name,
            title,
            f"{plural(len(new), 'Trigon firm')} not imported{note}: "
            + listed([f"{firm.name} ({firm.id})" for firm in new]),
            "run `trigon-sync import-clients` and `trigon-sync confirm` before the next import day"
            + ("; firms without View also need List and View in Trigon" if hidden else "")
            + "; `trigon-sync ignore CODE_OR_ID` stops announcing a firm you leave out on purpose",
            ExitCode.CONFIG,
        )
    return passed(name, title, f"all {len(firms)} listed firms are linked")


def clock_check(clients: Mapping[str, Any]) -> Check:
    """The skew each service's last answer showed (live: after the Trigon and Uku checks).

    ``clients`` maps a service name to its client, or to anything else when it could not
    be built (then that service is left out).
    """
    name, title = named("clock.services")
    skews = []
    for service, client in clients.items():
        stats = getattr(client, "stats", None)
        sample = stats.server_clock.sample if stats is not None else None
        if sample is not None:
            skews.append(skew.Skew(service, sample))
    if not skews:
        return skipped(name, title, "no answer with a Date header from Trigon or Uku")
    problem = skew.problem(skews)
    detail = "; ".join(s.describe() for s in skews)
    if problem is not None:
        return failed(name, title, detail, problem.hint, problem.exit_code)
    return passed(name, title, f"{detail} (allowed: {skew.span(skew.MAX_SKEW)})")


def uku_checks(config: Config, state: State, uku: Any) -> list[Check]:
    """Key, topic, mapped fields, linked clients.

    ``uku`` is a :class:`~trigon_sync.uku.UkuClient`, the error building it raised, or a
    reason (text) to skip every Uku check.
    """
    key_name, key_title = named("uku.key")
    dependents = [named(n) for n in ("uku.topic", "uku.fields", "uku.clients")]
    if isinstance(uku, str):
        return [skipped(key_name, key_title, uku), *(skipped(n, t, uku) for n, t in dependents)]
    if isinstance(uku, TrigonSyncError):
        return [
            from_error(key_name, key_title, uku),
            *(skipped(n, t, "Uku is not connected") for n, t in dependents),
        ]
    members = _attempt(key_name, key_title, uku.check)
    if isinstance(members, Check):
        return [members, *(skipped(n, t, "the Uku API key does not work") for n, t in dependents)]
    return [
        passed(key_name, key_title, f"company {uku.company}; {plural(members, 'member')}"),
        _topic(config, uku),
        _custom_fields(config, uku),
        _uku_clients(state, uku),
    ]


def _mapping_problems(config: Config, topics: Any, defined: Any) -> list[Any]:
    """The problems run-monthly would stop on, from its own resolver (one source of truth)."""
    from trigon_sync.errors import ConfigError
    from trigon_sync.monthly.plan import resolve_targets

    try:
        resolve_targets(config, topics, defined)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def _topic(config: Config, uku: Any) -> Check:
    name, title = named("uku.topic")
    wanted = config.summary.topic
    if wanted is None:
        return skipped(name, title, "summary.topic is not set")
    topics = _attempt(name, title, uku.list_topics)
    if isinstance(topics, Check):
        return topics
    problems = [p for p in _mapping_problems(config, topics, []) if p.key == "summary.topic"]
    if problems:
        return failed(
            name,
            title,
            problems[0].message,
            "create the topic in Uku or set summary.topic to an existing one",
            ExitCode.CONFIG,
        )
    match = naming.find(wanted, topics).item
    assert match is not None  # noqa: S101 - resolve_targets found exactly one
    return passed(name, title, f"{match.name} (id {match.id})")


def _custom_fields(config: Config, uku: Any) -> Check:
    name, title = named("uku.fields")
    if not config.fields:
        return skipped(name, title, "no field is mapped in [fields]")
    defined = _attempt(name, title, lambda: uku.list_custom_fields("task"))
    if isinstance(defined, Check):
        return defined
    problems = [p for p in _mapping_problems(config, [], defined) if p.key.startswith("fields.")]
    if problems:
        return failed(
            name,
            title,
            "; ".join(f"{p.key.removeprefix('fields.')}: {p.message}" for p in problems),
            "create number custom fields for tasks in Uku with these names, or map the counts "
            "to existing number fields (`trigon-sync map-fields`)",
            ExitCode.CONFIG,
        )
    return passed(name, title, f"all {len(config.fields)} mapped fields are number fields")


def _uku_clients(state: State, uku: Any) -> Check:
    name, title = named("uku.clients")
    if not state.links:
        return skipped(name, title, "no linked clients")
    clients = _attempt(name, title, uku.list_clients)
    if isinstance(clients, Check):
        return clients
    existing = {client.id for client in clients}
    gone = [
        f"{link.name} (Uku client {link.uku_client_id})"
        for link in state.links.values()
        if link.uku_client_id not in existing
    ]
    if gone:
        return failed(
            name,
            title,
            f"{plural(len(gone), 'linked client')} no longer in Uku: " + listed(sorted(gone)),
            "run `trigon-sync import-clients` to create or link them again",
            ExitCode.CONFIG,
        )
    return passed(name, title, f"all {len(state.links)} found in Uku")
