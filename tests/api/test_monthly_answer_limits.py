"""An impossible Trigon count fails that client only, and is never written to Uku."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from monthly_env import connect, link_firms, make_config, viewable_firms

from trigon_sync.sandbox import SandboxWorld
from trigon_sync.store.state import load_state


class ImpossibleCountFor(httpx.BaseTransport):
    """Answers every count of one firm with -5 (the other firms are served normally)."""

    firm = ""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith(f"/v1/firms/{self.firm}/") and path.endswith("/count"):
            return httpx.Response(200, json={"data": {"count": -5}})
        return self.inner.handle_request(request)


def test_an_impossible_count_fails_that_client_with_the_reason(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """-5 payments: that client fails naming the count, the others get their tasks."""
    firms = viewable_firms(sandbox_seed_dict)[:3]
    link_firms(sandbox_world, firms)
    ImpossibleCountFor.firm = firms[0]
    env = connect(sandbox_world, make_config(), tmp_path, transport_wrapper=ImpossibleCountFor)
    try:
        result = env.run(dt.date(2024, 10, 31))
    finally:
        env.close()
    [failed] = result.failed
    assert failed.link.trigon_id == firms[0]
    assert "impossible count -5" in (failed.error or "")
    links = load_state().links
    written = {t["client_id"] for t in env.tasks()}
    assert links[firms[0]].uku_client_id not in written
    assert written == {links[f].uku_client_id for f in firms[1:]}
