"""How long the operators' audit log keeps its entries: SEALBOX_AUDIT_DAYS.

Writing an entry is operator/actions.audit; the clean-up prunes through here
(housekeeping/retention.pruning, connected in apps.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from sealbox.operator.models import AuditEntry


def prune(sender: object = None, *, now: datetime, **kwargs: object) -> int:
    """Remove entries older than SEALBOX_AUDIT_DAYS; return how many."""
    removed, _ = AuditEntry.objects.filter(
        at__lt=now - timedelta(days=settings.AUDIT_DAYS)
    ).delete()
    return removed
