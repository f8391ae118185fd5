"""The durable outgoing queue and the per-recipient notification state."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutgoingEmail(models.Model):
    """One email to hand to the relay, queued in the transaction that caused it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    mail_from = models.CharField(max_length=400)
    recipients = models.JSONField()
    subject = models.CharField(max_length=400, blank=True)
    # The whole message as it will be sent; emptied once sent, since it may
    # carry a one-time link.
    data = models.BinaryField()
    created = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    give_up_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outgoing_due")]

    def __str__(self) -> str:
        return f"{self.kind} to {', '.join(self.recipients)} ({self.status})"

    @property
    def retrying(self) -> bool:
        return self.status == self.Status.QUEUED and self.attempts > 0


class NotificationState(models.Model):
    """When a recipient was last told about new mail, and when to tell them next."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    # The earliest arrival time of a message not yet named in a notification. A
    # delivery's arrival time is taken before it commits, so it can be earlier
    # than last_sent_at; this keeps such a message in the next notification.
    pending_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"notifications for {self.user_id}"


class SendRecord(models.Model):
    """One message a recipient sent from the portal: what the hourly limit counts.

    Kept apart from the Sent folder, so deleting sent copies does not reset it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "created"], name="sendrecord_user_created")]

    def __str__(self) -> str:
        return f"sent by {self.user_id} at {self.created}"
