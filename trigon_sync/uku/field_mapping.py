"""Which Trigon count goes into which Uku task custom field, checked against Uku's fields.

Pure: the configured mapping (``config.fields``) and the custom fields read from Uku
go in, a validated mapping or a per-field report comes out. Uku bills from these
fields, so a wrong target is a wrong invoice: a field that cannot hold a number, a
name Uku does not know, or two counts written into one field are refused as a whole
(:class:`~trigon_sync.errors.UsageError` listing every problem), never half applied.

A target is stored as the user named it, made canonical: an id stays an integer, a
name is stored as Uku spells it (names are matched by naming.find, the one rule for
whitespace and case). A name that two Uku fields share is ambiguous and must be given
by id. The summary task's topic
follows the same rules (:func:`resolve_topic`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trigon_sync.errors import UsageError
from trigon_sync.settings import fields, naming
from trigon_sync.settings.fields import TrigonField
from trigon_sync.uku.models import CustomField, Topic

Target = str | int
"""How config.toml names an Uku field: its name (text) or its id (integer)."""


class Status(enum.StrEnum):
    """How one Trigon field's mapping stands against the fields Uku has now."""

    OK = "ok"
    UNMAPPED = "unmapped"
    MISSING = "missing"
    """The configured Uku field does not exist (renamed or deleted in Uku)."""
    NOT_NUMBER = "not_number"
    AMBIGUOUS = "ambiguous"
    DUPLICATE = "duplicate"
    """Another Trigon field already writes into the same Uku field."""
    NOT_CHECKED = "not_checked"
    """Uku's fields were not read (not connected)."""


@dataclass(frozen=True)
class MappingRow:
    """One of the 14 Trigon fields with its configured target and what Uku says of it."""

    field: TrigonField
    target: Target | None
    uku_field: CustomField | None
    status: Status

    def to_json(self) -> dict[str, Any]:
        uku = self.uku_field
        return {
            "key": self.field.key,
            "label_en": self.field.label_en,
            "label_et": self.field.label_et,
            "kind": self.field.kind,
            "configured": self.target,
            "uku_field": None
            if uku is None
            else {"id": uku.id, "name": uku.name, "type": uku.type},
            "status": str(self.status),
        }


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = naming.closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def check_key(key: str) -> str:
    """``key`` when it names one of the 14 Trigon fields, else a UsageError naming it."""
    cleaned = key.strip()
    if not fields.is_known(cleaned):
        raise UsageError(
            f"{key!r} is not a Trigon field{_suggest(cleaned, fields.KEYS)}",
            hint="`trigon-sync map-fields --show` lists the 14 keys",
        )
    return cleaned


def parse_assignment(text: str) -> tuple[str, str]:
    """``KEY=UKU_FIELD`` -> (key, field reference); both sides must be present."""
    key, sep, ref = text.partition("=")
    if not sep or not key.strip() or not ref.strip():
        raise UsageError(
            f"--set {text!r} is not KEY=UKU_FIELD",
            hint="e.g. --set sales_invoices_created='Sales invoice created' (name or id)",
        )
    return check_key(key), ref.strip()


class _Lookup:
    """Uku task custom fields, found the one way (naming.find)."""

    def __init__(self, uku_fields: Sequence[CustomField]) -> None:
        self.fields = list(uku_fields)

    def find(self, ref: Target) -> tuple[CustomField | None, Status]:
        found = naming.find(ref, self.fields)
        if found.ambiguous:
            return None, Status.AMBIGUOUS
        return (found.item, Status.OK) if found.item else (None, Status.MISSING)


def resolve_target(ref: str, uku_fields: Sequence[CustomField]) -> tuple[CustomField, Target]:
    """The Uku number field ``ref`` (a name or an id) names, and how to store it.

    Raises UsageError when no field matches, two fields share the name, or the field
    cannot hold a count.
    """
    text = ref.strip()
    found = naming.find(text, uku_fields)
    if found.ambiguous:
        raise UsageError(
            f"more than one Uku task field is called {text!r} (ids {found.ids})",
            hint="give the field by its id",
        )
    if found.item is None:
        names = [f.name for f in uku_fields if f.holds_count]
        raise UsageError(
            f"Uku has no task custom field {text!r}{_suggest(text, names)}",
            hint="`trigon-sync map-fields --show` lists Uku's task fields; create the field "
            "in Uku first if it is missing",
        )
    item = found.item
    if not item.holds_count:
        raise UsageError(
            f"the Uku field {item.name!r} (id {item.id}) is of type {item.type!r} and "
            "cannot hold a count",
            hint="map the count to a number-type task custom field",
        )
    return item, (item.id if found.by_id else item.name)


def change_mapping(
    current: Mapping[str, Target],
    uku_fields: Sequence[CustomField],
    *,
    sets: Sequence[tuple[str, str]] = (),
    unsets: Sequence[str] = (),
) -> dict[str, Target]:
    """The mapping after ``--unset`` then ``--set``; every problem in one UsageError.

    Only the targets being set are checked against Uku (a stale entry elsewhere is
    reported by :func:`mapping_rows`, not a reason to refuse an unrelated change),
    but no two Trigon fields may end up in the same Uku field.
    """
    problems: list[str] = []
    result: dict[str, Target] = dict(current)
    for key in unsets:
        result.pop(check_key(key), None)
    seen_keys: set[str] = set()
    for key, ref in sets:
        if key in seen_keys:
            problems.append(f"{key} is set twice")
            continue
        seen_keys.add(key)
        try:
            _, stored = resolve_target(ref, uku_fields)
        except UsageError as exc:
            problems.append(f"{key}: {exc.message}")
            continue
        result[key] = stored
    problems.extend(_duplicates(result, uku_fields))
    if problems:
        raise UsageError(
            "; ".join(problems) + "; nothing was written",
            hint="`trigon-sync map-fields --show` lists the keys and Uku's number fields",
        )
    return {key: result[key] for key in fields.KEYS if key in result}


def _duplicates(mapping: Mapping[str, Target], uku_fields: Sequence[CustomField]) -> list[str]:
    lookup = _Lookup(uku_fields)
    owner: dict[object, str] = {}
    problems: list[str] = []
    for key in fields.KEYS:
        if key not in mapping:
            continue
        found, _ = lookup.find(mapping[key])
        ref = mapping[key]
        if found is not None:
            identity: object = found.id
        else:
            identity = naming.label_key(ref) if isinstance(ref, str) else ref
        if identity in owner:
            shown = found.name if found is not None else str(ref)
            problems.append(
                f"{owner[identity]} and {key} both map to the Uku field {shown!r}; "
                "each count needs its own field"
            )
        else:
            owner[identity] = key
    return problems


def mapping_rows(
    mapping: Mapping[str, Target], uku_fields: Sequence[CustomField] | None
) -> list[MappingRow]:
    """All 14 Trigon fields in catalogue order with their status (``None``: Uku not read)."""
    lookup = _Lookup(uku_fields) if uku_fields is not None else None
    used: dict[int, str] = {}
    rows: list[MappingRow] = []
    for trigon_field in fields.FIELDS:
        target = mapping.get(trigon_field.key)
        if target is None:
            rows.append(MappingRow(trigon_field, None, None, Status.UNMAPPED))
            continue
        if lookup is None:
            rows.append(MappingRow(trigon_field, target, None, Status.NOT_CHECKED))
            continue
        found, status = lookup.find(target)
        if found is not None and not found.holds_count:
            status = Status.NOT_NUMBER
        elif found is not None and found.id in used:
            status = Status.DUPLICATE
        elif found is not None:
            used[found.id] = trigon_field.key
        rows.append(MappingRow(trigon_field, target, found, status))
    return rows


def count_fields(uku_fields: Sequence[CustomField]) -> list[CustomField]:
    """The Uku fields that can receive a count (number type), in Uku's order."""
    return [f for f in uku_fields if f.holds_count]


def resolve_topic(ref: str, topics: Sequence[Topic]) -> tuple[Topic, Target]:
    """The Uku topic ``ref`` names (naming.find: name or id) and how to store it."""
    text = ref.strip()
    found = naming.find(text, topics)
    if found.ambiguous:
        raise UsageError(
            f"more than one Uku topic is called {text!r} (ids {found.ids})",
            hint="give the topic by its id",
        )
    if found.item is not None:
        return found.item, (found.item.id if found.by_id else found.item.name)
    names = [t.name for t in topics]
    listed = ", ".join(names[:10]) or "none"
    raise UsageError(
        f"Uku has no topic {text!r}{_suggest(text, names)}",
        hint=f"create it in Uku first, or pick one of: {listed}",
    )


def find_topic(ref: Target, topics: Sequence[Topic]) -> Topic | None:
    """The topic a configured ``summary.topic`` names, or None (missing or ambiguous)."""
    return naming.find(ref, topics).item
