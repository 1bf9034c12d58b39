"""``doctor --probe`` against Uku: one throw-away task turns our assumptions into facts.

The task belongs to no client, sits in the configured topic, is titled
:data:`PROBE_TITLE` and carries ``trigon-sync-probe:<installation id>`` in its
description, so nobody mistakes it and a later probe finds it again. It is deleted at the
end, also after a failure or an interrupt (``finally``); whatever cannot be deleted is
named in :attr:`ProbeFacts.left_behind`. A probe killed outright (SIGKILL, power) leaves it
behind: the next probe deletes every task with that title and this installation's mark,
once at the start and again at the end, when Uku's list has caught up with it.

Measured (health/probe_facts.py judges): the custom-field round trip of every mapped
field, the identity token in the description (as text and as Uku renders it), which
GET /tasks filters are honoured, the list lag (bounded polling), whether a second create
with the same Idempotency-Key is replayed, whether ``POST /tasks/{id}/complete`` is
served, the rate-limit headers, the shape of a validation error and, when served, the
differences between ``/openapi.json`` and what the client sends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trigon_sync.errors import ApiError, ConfigError, Problem, TrigonSyncError
from trigon_sync.health.probe_facts import FieldRoundTrip, ProbeFacts
from trigon_sync.health.probe_openapi import openapi_differences
from trigon_sync.http.session import ApiResponse
from trigon_sync.monthly.plan import held_count
from trigon_sync.monthly.task_identity import TaskIdentity, plain_text
from trigon_sync.settings import naming
from trigon_sync.settings.config import Config
from trigon_sync.uku import UkuClient
from trigon_sync.uku.adapter import task_draft_to_json, task_from_json
from trigon_sync.uku.field_mapping import find_topic
from trigon_sync.uku.models import Task, TaskDraft, Topic

PROBE_TITLE = "trigon-sync probe — safe to delete"
PROBE_MARK = "trigon-sync-probe:"
PROBE_PERIOD = "0000-00"
"""The identity token's period: one no run ever uses."""
LAG_LIMIT = 120.0
"""Seconds the probe waits at most for the list to show its task."""
FIRST_POLL = 0.25
EPOCH_FROM = 1_000_000
RATE_HEADERS = ("Limit", "Remaining", "Reset", "Tier")


@dataclass
class _Run:
    """What one probe created (to delete) and measured so far."""

    created: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rate: dict[str, str] = field(default_factory=dict)


def probe_uku(
    uku: UkuClient,
    config: Config,
    installation: str,
    *,
    now: Callable[[], dt.datetime],
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
) -> ProbeFacts:
    """Measure Uku with one throw-away task, always deleted; see the module docstring."""
    run = _Run()
    mark = f"{PROBE_MARK}{installation}"
    topic = _topic(uku, config)
    facts: dict[str, Any] = {"probed_at": now().isoformat(timespec="seconds")}
    swept = 0
    try:
        swept += _sweep(uku, topic, mark, run)
        _measure(uku, config, installation, topic, now().date(), run, facts, monotonic, sleep)
    finally:
        for task_id in list(run.created):
            try:
                uku.delete_task(task_id)
                run.created.remove(task_id)
            except TrigonSyncError:
                continue
        with contextlib.suppress(TrigonSyncError):
            swept += _sweep(uku, topic, mark, run)
    if swept:
        run.notes.append(f"deleted {swept} probe task(s) an earlier, killed probe left behind")
    return ProbeFacts(
        **facts, rate_limit=run.rate, left_behind=tuple(run.created), notes=tuple(run.notes)
    )


def _topic(uku: UkuClient, config: Config) -> Topic:
    ref = config.summary.topic
    topic = find_topic(ref, uku.list_topics()) if ref is not None else None
    if topic is None:
        raise ConfigError(
            [Problem("config.toml", "summary.topic", f"names no Uku topic ({ref!r})")],
            hint="run `trigon-sync map-fields --topic NAME` first",
        )
    return topic


def _is_probe(task: Task, mark: str) -> bool:
    return task.title == PROBE_TITLE and mark in plain_text(task.description)


def _sweep(uku: UkuClient, topic: Topic, mark: str, run: _Run) -> int:
    """Delete every probe task of this installation the list shows; how many were
    not this probe's own."""
    others = 0
    for task in uku.list_tasks(topic_id=topic.id):
        if not _is_probe(task, mark):
            continue
        if task.id not in run.created:
            others += 1
            run.created.append(task.id)
        uku.delete_task(task.id)  # False: gone already, which is as good
        run.created.remove(task.id)
    return others


def _rate(response: ApiResponse, run: _Run) -> None:
    tier = response.headers.get("X-RateLimit-Tier") or "unknown"
    for name in RATE_HEADERS:
        value = response.headers.get(f"X-RateLimit-{name}")
        if value is not None:
            run.rate[f"{tier}.{name}"] = value


def _measure(
    uku: UkuClient,
    config: Config,
    installation: str,
    topic: Topic,
    day: dt.date,
    run: _Run,
    facts: dict[str, Any],
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    # the fields, and whether lists say has_more
    listing = uku.exchange("GET", "/custom-fields", params={"entity": "task", "limit": 200})
    _rate(listing, run)
    meta = listing.body.get("meta") if isinstance(listing.body, Mapping) else None
    facts["has_more"] = isinstance(meta, Mapping) and "has_more" in meta
    uku_fields = uku.list_custom_fields("task")
    mapped = []
    for k, (key, ref) in enumerate(sorted(config.fields.items())):
        item = naming.find(ref, uku_fields).item
        if item is None:
            run.notes.append(f"the mapped field {ref!r} ({key}) is not in Uku: not probed")
            continue
        mapped.append((key, item, 101 + k))

    # a validation error's shape (nothing is created by an invalid body)
    invalid = uku.exchange("POST", "/tasks", json_body={"title": ""})
    _rate(invalid, run)
    if invalid.ok:
        run.created.append(task_from_json(invalid.body["data"]).id)
        run.notes.append("Uku created a task with an empty title")
    details = invalid.error.get("details")
    facts["validation_shape"] = (
        "real" if invalid.status == 422 or isinstance(details, list) else "contract"
    )

    # the throw-away task
    identity = TaskIdentity(installation, 0, PROBE_PERIOD)
    text = (
        f"{PROBE_TITLE}: made by `trigon-sync doctor --probe` and deleted by it.\n"
        f"{PROBE_MARK}{installation}"
    )
    draft = TaskDraft(
        title=PROBE_TITLE,
        client_id=0,
        topic_id=topic.id,
        date=day,
        description=identity.describe(text),
        custom_fields={item.id: value for _, item, value in mapped},
    )
    body = task_draft_to_json(draft)
    del body["client_id"]  # a task of no client: no client's summary, no invoice
    key = f"trigon-sync-probe-{secrets.token_hex(8)}"
    created = uku.exchange("POST", "/tasks", json_body=body, idempotency_key=key)
    started = monotonic()  # Uku committed before it answered
    _rate(created, run)
    if not created.ok:
        raise ApiError(
            f"Uku refused the probe's task: {created.error_message}",
            status=created.status,
            code=created.error_code,
            details=created.error.get("details"),
        )
    task = task_from_json(created.body["data"])
    run.created.append(task.id)

    # the list lag, then the filters (only meaningful once the list shows the task)
    lag = _lag(uku, topic, day, task.id, started, monotonic, sleep)
    facts["list_lag_seconds"] = lag
    if lag is None:
        run.notes.append(f"the list did not show the probe task within {LAG_LIMIT:.0f} s")
        facts["filters"] = dict.fromkeys(("client_id", "topic_id", "date"))
    else:
        facts["filters"] = _filters(uku, topic, day, task.id)

    # the round trip of fields and token, read fresh
    got = uku.get_task(task.id) or task
    facts["fields"] = tuple(
        FieldRoundTrip(
            key=key_,
            name=item.name,
            type=item.type,
            written=value,
            read_back=got.custom_fields.get(item.id),
            kept=held_count(got.custom_fields.get(item.id)) == value,
        )
        for key_, item, value in mapped
    )
    facts["token_kept"] = identity.marker in plain_text(got.description)
    facts["description_html"] = got.description != draft.description and "<" in (
        got.description or ""
    )

    # the Idempotency-Key: the same create again
    again = uku.exchange("POST", "/tasks", json_body=body, idempotency_key=key)
    if again.ok:
        second = task_from_json(again.body["data"])
        replayed = second.id == task.id
        if not replayed:
            run.created.append(second.id)
        facts["idempotency_replayed"] = replayed
    else:
        run.notes.append(f"a second create with the same key: HTTP {again.status}")

    # POST /tasks/{id}/complete
    complete = uku.exchange("POST", f"/tasks/{task.id}/complete")
    _rate(complete, run)
    if complete.ok or complete.status == 404:
        facts["complete_served"] = complete.ok
    else:
        run.notes.append(f"POST /tasks/{{id}}/complete answered HTTP {complete.status}")
    reset = run.rate.get("write.Reset") or run.rate.get("read.Reset")
    try:
        facts["rate_reset_epoch"] = None if reset is None else float(reset) >= EPOCH_FROM
    except ValueError:
        facts["rate_reset_epoch"] = None

    # the public OpenAPI document
    document = uku.exchange("GET", "/openapi.json", with_key=False)
    if document.ok:
        facts["openapi"] = tuple(openapi_differences(document.body, body))
    else:
        run.notes.append(f"/openapi.json is not served (HTTP {document.status})")


def _listed(uku: UkuClient, task_id: int, **filters: Any) -> bool:
    return any(t.id == task_id for t in uku.list_tasks(**filters))


def _lag(
    uku: UkuClient,
    topic: Topic,
    day: dt.date,
    task_id: int,
    started: float,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
) -> float | None:
    """Seconds from the create until the list shows the task; polls at most
    :data:`LAG_LIMIT`, each wait a tenth of the time so far (at least
    :data:`FIRST_POLL`), so the measure is at most 10 % long. Listed at the first
    look is no lag at all (0), whatever the request itself took."""
    first = True
    while True:
        elapsed = monotonic() - started
        if _listed(uku, task_id, topic_id=topic.id, date_from=day, date_to=day):
            return 0.0 if first else round(max(0.0, monotonic() - started), 3)
        first = False
        if elapsed >= LAG_LIMIT:
            return None
        sleep(max(FIRST_POLL, elapsed / 10))


def _filters(uku: UkuClient, topic: Topic, day: dt.date, task_id: int) -> dict[str, bool | None]:
    """Each filter asked to exclude the probe task: still listed means dropped."""
    later = day + dt.timedelta(days=1)
    result: dict[str, bool | None] = {
        "date": not _listed(uku, task_id, topic_id=topic.id, date_from=later, date_to=later)
    }
    other = next((t for t in uku.list_topics() if t.id != topic.id), None)
    result["topic_id"] = (
        None
        if other is None
        else not _listed(uku, task_id, topic_id=other.id, date_from=day, date_to=day)
    )
    clients = uku.exchange("GET", "/clients", params={"limit": 1, "offset": 0}).body
    rows = clients.get("data") if isinstance(clients, Mapping) else None
    client_id = rows[0].get("id") if isinstance(rows, list) and rows else None
    result["client_id"] = (
        None
        if not isinstance(client_id, int)
        else not _listed(uku, task_id, client_id=client_id, date_from=day, date_to=day)
    )
    return result
