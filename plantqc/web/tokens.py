"""The REST API's bearer tokens (`plantqc.web.routes.api`).

A token is a random string that the server keeps (in this process's memory), like a console
session (`plantqc.web.security`): it carries nothing a client could forge or read, it is
worth nothing after a restart, and it ends for good after its lifetime or an idle time,
whichever comes first, so a script's token that leaks is not a key for ever.  The store
remembers only a digest of each token, so its memory holds no usable credential either.
Who a token belongs to is checked again at every request (`plantqc.users.current_role`),
so that disabling an account stops its tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

LIFETIME_S = 8 * 3600.0
"""How long a token lives from its issue: one shift, after which a script logs in again."""

IDLE_S = 30 * 60.0
"""Time without a request after which a token ends (a script that has stopped using it)."""


@dataclass
class ApiToken:
    """Whose a token is, and when it was issued and last used (monotonic seconds)."""

    user: str
    issued: float
    last_used: float


class TokenRefused(Exception):
    """A presented token that is unknown, or has run out; ``user`` is whose it was, when the
    store still knew it (for the audit entry of the refusal)."""

    def __init__(self, reason: str, user: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user


class TokenStore:
    """Tokens by digest, each ending ``lifetime_s`` after its issue or ``idle_s`` after its
    last use."""

    def __init__(self, lifetime_s: float = LIFETIME_S, idle_s: float = IDLE_S) -> None:
        self.lifetime_s = lifetime_s
        self.idle_s = idle_s
        self._tokens: dict[str, ApiToken] = {}
        self._lock = threading.Lock()  # uvicorn runs sync endpoints in a thread pool

    def issue(self, user: str) -> str:
        """A new token of ``user``; tokens that have run out are dropped, so that a script
        logging in every few minutes does not add one more for good."""
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for stale in [k for k, t in self._tokens.items() if self._ended(t, now)]:
                del self._tokens[stale]
            self._tokens[_digest(token)] = ApiToken(user, now, now)
        return token

    def user_of(self, token: str) -> str:
        """Whose ``token`` is, its last use now; `TokenRefused` when the store does not know
        it or it has run out (then it is dropped)."""
        key = _digest(token)
        now = time.monotonic()
        with self._lock:
            found = self._tokens.get(key)
            if found is None:
                raise TokenRefused("unknown token")
            ended = self._ended(found, now)
            if ended is not None:
                del self._tokens[key]
                raise TokenRefused(ended, found.user)
            found.last_used = now
            return found.user

    def revoke(self, token: str) -> None:
        """End ``token`` (its account was disabled or deleted)."""
        with self._lock:
            self._tokens.pop(_digest(token), None)

    def _ended(self, token: ApiToken, now: float) -> str | None:
        """Why ``token`` has ended by ``now``, None while it lives."""
        if now - token.issued > self.lifetime_s:
            return "token expired"
        if now - token.last_used > self.idle_s:
            return "token idle too long"
        return None


def _digest(token: str) -> str:
    # a dictionary lookup by the token itself would compare it byte by byte with stored ones;
    # by its SHA-256 the timing tells nothing about a stored token
    return hashlib.sha256(token.encode()).hexdigest()
