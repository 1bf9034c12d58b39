"""The sandbox's own refusal type: an HTTP status plus the contract's error envelope.

Kept free of Starlette so the in-memory world can refuse things (bad token, missing View)
in the exact words of docs/trigon-api.md and docs/uku-api.md without importing a web
framework; the apps turn it into a JSON response.
"""

from __future__ import annotations

from typing import Any


class ApiProblem(Exception):
    """A contract error: ``status`` and ``{"error": {"code", "message", "details"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The error envelope both contracts share."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def validation_error(fields: dict[str, str], message: str = "invalid request") -> ApiProblem:
    """400 VALIDATION_ERROR naming each bad field, as both contracts document."""
    return ApiProblem(400, "VALIDATION_ERROR", message, {"fields": fields})
