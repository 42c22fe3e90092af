"""The time, as sign-in security sees it.

Session timeouts, lockouts and TOTP codes all read the time through :func:`now`, so tests move
time forward by monkeypatching ``exchange.security.clock.now`` instead of sleeping. Call it as
``clock.now()`` (not ``from .clock import now``) so the patch is seen.
"""

from __future__ import annotations

from datetime import datetime

from exchange.models.base import utcnow

__all__ = ["now"]


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return utcnow()
