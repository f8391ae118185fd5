"""Sessions in the database, saved on a full disk too (SESSION_ENGINE).

Signing in and out must work when the data directory is full: a session
write that fails for lack of space releases the reserve and is tried once
more (diskspace.py). A change to an existing session (its renewed
expiry, a flash message) that still does not fit is skipped: the session
stays as it was, and the page is shown.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db

from sealbox import diskspace


class SessionStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        save = diskspace.retry_when_full(super().save)
        if must_create or self.session_key is None:
            save(must_create)
            return
        with diskspace.unless_full("session update"):
            save(must_create)

    @diskspace.retry_when_full
    def delete(self, session_key: str | None = None) -> None:
        super().delete(session_key)
