"""The premise of world_seeds.py: worlds built from one read seed share no state."""

from __future__ import annotations

import dataclasses
from typing import Any

from world_seeds import fresh_world, read_seed

from trigon_sync.sandbox import SandboxWorld


def snapshot(world: SandboxWorld) -> dict[str, Any]:
    """Everything a test can change in a world, as plain values."""
    trigon = world.trigon
    return {
        "uku": world.uku_state(),
        "plan": (world.uku.plan, world.uku.api_key_role, world.uku.complete_endpoint),
        "firms": dict(trigon.firms),
        "records": len(trigon.records),
        "persons": {firm: list(people) for firm, people in trigon.persons.items()},
        "users": {email: dataclasses.asdict(user) for email, user in trigon.users.items()},
        "register": [dict(row) for row in world.register],
    }


def test_worlds_from_one_read_seed_share_nothing() -> None:
    """Every kind of change one world takes (Uku clients and tasks, firms, records, users'
    rights, the plan, the register) leaves a second world of the same Seed as new."""
    changed, other = fresh_world(12, seed=3), fresh_world(12, seed=3)
    assert changed.seed is other.seed  # one read seed, really shared
    before = snapshot(other)

    firm = changed.seed.trigon.firms[0].id
    client = changed.seed.uku.clients[0]["id"]
    changed.uku.update_client(client, {"name": "Renamed OÜ", "registration_code": "99999999"})
    changed.uku.create_client({"name": "New OÜ", "registration_code": "12345678"})
    changed.add_record(firm, "payment", "2024-10-03T10:00:00+00:00")
    changed.revoke_view(firm)
    changed.deactivate_user("admin@firm.ee")
    changed.set_uku(plan="free", api_key_role="member", complete_endpoint=False)
    changed.register[0]["status"] = "L"
    changed.remove_firm(changed.seed.trigon.firms[1].id)
    changed.add_firm("new-firm", "New firm OÜ", "12345678")
    assert snapshot(changed) != before

    assert snapshot(other) == before
    assert snapshot(SandboxWorld(read_seed(12, seed=3))) == before
