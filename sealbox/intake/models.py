"""Refusals of mail that went round in circles, counted for operators (stats, /healthz)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RoutingLoop(models.Model):
    """One message refused as a routing loop: when, and which rule caught it."""

    class Reason(models.TextChoices):
        OWN_MAIL = "own-mail", "Sealbox's own outgoing mail"
        HOPS = "hops", "too many hops"

    created = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.CharField(max_length=10, choices=Reason.choices)

    def __str__(self) -> str:
        return f"routing loop ({self.reason}) at {self.created}"
