"""The console's sessions and CSRF tokens.

A session lives on the server (in this process's memory): the cookie carries only a random
id, so logging out, or the inactivity timeout, ends it for every copy of the cookie, and a
restart logs everyone out.  A session starts anonymous at the login page (so the login form
has a CSRF token too) and is replaced by a new id at login, so an id planted before login
is worth nothing after it (session fixation, OWASP Session Management Cheat Sheet).

Every POST form carries the session's token in a hidden field (synchroniser token pattern,
OWASP CSRF Prevention Cheat Sheet); the cookie is also ``SameSite=Strict``.

A session is one continuous period of controlled access in the sense of 21 CFR 11.200(a)(1):
its first electronic signature takes both components (user name and password), later ones
the password only (`WebSession.signing_components`).  A session that timed out or logged
out is gone, so the next login's first signature takes both again.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from plantqc.users import AuthenticationError
from plantqc.users.esign import Credentials

COOKIE = "plantqc_session"
CSRF_FIELD = "csrf_token"


@dataclass
class WebSession:
    """One browser's session: who is logged in (None before login), its CSRF token, when it
    was last used (monotonic seconds), and whether its user has signed in it yet."""

    id: str
    csrf_token: str
    last_seen: float
    user: str | None = None
    role: str | None = None
    signed: bool = False

    @property
    def signing_components(self) -> int:
        """The signature components the session's next signing asks for: 2 (user name and
        password) at its first, 1 (the password) once it has signed (21 CFR 11.200(a)(1)(i))."""
        return 1 if self.signed else 2

    def credentials(self, username: str | None, password: str) -> Credentials:
        """What the session's next signing signs with: at its first, the user name typed
        (`plantqc.users.esign.sign` checks it is the session's user) and the password; later
        the session's user and the password.  An `AuthenticationError` when the first lacks
        the user name."""
        if self.signed:
            assert self.user is not None  # only a logged-in session signs
            return Credentials(self.user, password)
        if not (username or "").strip():
            raise AuthenticationError(
                "the first signature of a session takes your user name as well as your password."
            )
        return Credentials(str(username).strip(), password)

    def csrf_ok(self, token: str | None) -> bool:
        """Whether ``token`` is this session's CSRF token (compared in constant time)."""
        return token is not None and secrets.compare_digest(token, self.csrf_token)


class SessionStore:
    """Sessions by id, each ending ``timeout_s`` seconds after its last use."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()  # uvicorn runs sync endpoints in a thread pool

    def new(self, user: str | None = None, role: str | None = None) -> WebSession:
        """A new session with a fresh id and CSRF token; timed-out sessions are dropped, so
        that every visit to the login page does not add one more for good."""
        now = time.monotonic()
        session = WebSession(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            last_seen=now,
            user=user,
            role=role,
        )
        with self._lock:
            for stale in [
                k for k, s in self._sessions.items() if now - s.last_seen > self.timeout_s
            ]:
                del self._sessions[stale]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, *, renew: bool = True) -> WebSession | None:
        """The live session ``session_id``, its last use now unless not ``renew``; None when
        unknown or timed out (a timed-out one is dropped)."""
        if session_id is None:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.timeout_s:
                del self._sessions[session_id]
                return None
            if renew:
                session.last_seen = now
            return session

    def drop(self, session_id: str) -> None:
        """End session ``session_id`` (logout, or replaced at login)."""
        with self._lock:
            self._sessions.pop(session_id, None)
