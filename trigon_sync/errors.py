"""Every failure the tool expects, as a typed exception with a documented exit code.

Domain code raises these; exactly one place (``cli.boundary``) turns them into one
line on stderr and the process exit code. Each error carries what happened
(``message``) and what the user should do next (``hint``).

    TrigonSyncError
    ├── UsageError            bad input on the command line           -> USAGE
    ├── ConfigError           config.toml missing/invalid (problems)   -> CONFIG
    ├── SecretStoreError      no usable keyring / token store          -> CONFIG
    ├── StateError            state.toml unreadable, corrupt, newer    -> STATE
    ├── BusyError             another run holds the lock               -> BUSY
    ├── AuthError             connection missing, expired or revoked   -> AUTH
    │   └── CredentialsError  wrong email/password, inactive user      -> AUTH
    ├── PermissionDenied      Trigon role lacks List/View, Uku plan    -> PERMISSION
    ├── ServiceError          a remote API failed after retries        -> SERVICE
    │   ├── ServiceUnavailable  unreachable, timeouts, 5xx, 429 exhausted
    │   │   └── WriteUnconfirmed  a create was sent, its answer lost: it may exist
    │   ├── AnswerRefused       an answer too large, too deep or impossible
    │   └── ApiError            an unexpected answer (status, code, details)
    ├── ClockSkewError        the local clock disagrees with the services -> CLOCK
    ├── UkuUnsafe             a probe found Uku would break exactly once  -> UNSAFE
    └── PartialFailure        some clients failed, others done         -> PARTIAL

Exit code 1 (UNEXPECTED) is reserved for bugs: anything that is not one of these.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class ExitCode(enum.IntEnum):
    """Process exit codes; the table in README.md and docs/operations.md mirrors this."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    PARTIAL = 5
    BUSY = 6
    SERVICE = 7
    STATE = 8
    PERMISSION = 9
    CLOCK = 10
    UNSAFE = 11


class TrigonSyncError(Exception):
    """Base of every expected failure; ``str()`` is the one line shown to the user."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} — {self.hint}"


class UsageError(TrigonSyncError):
    """The command line asked for something that cannot be done (bad value, unknown name)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Problem:
    """One invalid setting: where it is and what is wrong with it."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.key}: {self.message}"


class ConfigError(TrigonSyncError):
    """config.toml cannot be used; lists every problem at once, not just the first."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: Iterable[Problem], *, hint: str | None = None) -> None:
        self.problems: Sequence[Problem] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems), hint=hint)


class SecretStoreError(TrigonSyncError):
    """No usable place for the refresh token / API key (e.g. keyring without a backend)."""

    exit_code = ExitCode.CONFIG


class StateError(TrigonSyncError):
    """state.toml is corrupt, unreadable or written by a newer version; never overwritten."""

    exit_code = ExitCode.STATE


class BusyError(TrigonSyncError):
    """Another trigon-sync process holds the state lock; this one changes nothing."""

    exit_code = ExitCode.BUSY


class AuthError(TrigonSyncError):
    """A connection is missing, expired or revoked; the fix is to connect again."""

    exit_code = ExitCode.AUTH


class CredentialsError(AuthError):
    """Trigon refused the login itself: wrong email/password, inactive or removed user."""

    def __init__(self, message: str, *, code: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class PermissionDenied(TrigonSyncError):
    """The account works but may not do this (Trigon List/View, Uku plan or role)."""

    exit_code = ExitCode.PERMISSION


class ServiceError(TrigonSyncError):
    """A remote API failed in a way retries did not cure."""

    exit_code = ExitCode.SERVICE


class ServiceUnavailable(ServiceError):
    """The service could not be reached or kept failing (timeouts, 5xx, 429 past limits)."""


class WriteUnconfirmed(ServiceUnavailable):
    """A non-idempotent write (a create) may have reached the server, but no answer says
    whether it took effect. It is never sent again blindly: the caller reads the service
    to find out (an Idempotency-Key is not trusted to prevent a second object)."""


class AnswerRefused(ServiceError):
    """An answer we refuse to use: too large, nested absurdly deep, or impossible values."""


class ClockSkewError(TrigonSyncError):
    """The local clock disagrees with Trigon's or Uku's ``Date``; nothing is written."""

    exit_code = ExitCode.CLOCK


class UkuUnsafe(TrigonSyncError):
    """``doctor --probe`` found that Uku does not keep what exactly once rests on (a
    mapped field's value, the identity token): the run writes nothing until a new probe
    finds otherwise."""

    exit_code = ExitCode.UNSAFE


class ApiError(ServiceError):
    """The service answered with an error we do not handle more specifically."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        details: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.details = details


class PartialFailure(TrigonSyncError):
    """Work finished for some items and failed for others; ``result`` says which."""

    exit_code = ExitCode.PARTIAL

    def __init__(self, message: str, *, result: Any = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result
