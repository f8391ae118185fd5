"""The index of stored messages. The message itself is a file in the blob store."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sealbox.mailstore import sealed, searchtext


class Message(models.Model):
    class Folder(models.TextChoices):
        INBOX = "inbox", _("Inbox")
        SENT = "sent", _("Sent")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    folder = models.CharField(max_length=10, choices=Folder.choices, default=Folder.INBOX)
    blob = models.CharField(max_length=200, unique=True)
    size = models.BigIntegerField()
    received_at = models.DateTimeField(default=timezone.now)
    envelope_from = models.CharField(max_length=400, blank=True)
    # What the message says about itself: with encryption at rest these are
    # empty in the database and kept inside sealed_summary (mailstore/sealed.py).
    message_id = sealed.SealedCharField(max_length=998, blank=True)
    from_name = sealed.SealedCharField(max_length=400, blank=True)
    from_address = sealed.SealedCharField(max_length=400, blank=True)
    subject = sealed.SealedTextField(blank=True)
    to_display = sealed.SealedCharField(max_length=400, blank=True)
    sent_date = sealed.SealedDateTimeField(null=True, blank=True)
    # One a line (summary.names_label); empty for mail stored before they were kept
    # until `sealbox mailbox index` has read it again.
    attachment_names = sealed.SealedTextField(blank=True, default="")
    attachment_count = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    # When the reader answered "Don't send" to the message's receipt request:
    # the question is not asked again (outbound/receipts.py).
    receipt_declined_at = models.DateTimeField(null=True, blank=True)
    # Written by a Sealbox recipient through the portal (portal/sending.py),
    # not received from the gateway: never a read receipt for it.
    from_portal = models.BooleanField(default=False, editable=False)
    # Whether its recipient was reminded, unread, that it is about to be removed.
    expiry_reminded = models.BooleanField(default=False)
    # With encryption at rest: the content fields above, sealed (mailstore/sealed.py).
    sealed_summary = models.BinaryField(null=True, blank=True, editable=False)
    # What search looks in, normalised (mailstore/search.py), set on every save;
    # empty in a sealed row, whose fields are searched once opened in memory.
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        # The inbox's order, newest first with the id as a tie-breaker: no sort step.
        indexes = [
            models.Index(
                fields=["owner", "folder", "-received_at", "-id"], name="msg_owner_folder"
            ),
            # Retention clean-up: the oldest messages first.
            models.Index(fields=["received_at"], name="msg_received"),
        ]

    def __str__(self) -> str:
        # The owner's address where it is already loaded (the admin selects it); never a query.
        if Message.owner.is_cached(self):
            return f"{self.id} for {self.owner.email}"
        return f"{self.id} for account {self.owner_id}"

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Message:
        instance = super().from_db(db, field_names, values)
        if instance.__dict__.get("sealed_summary"):
            sealed.reveal(instance)
        return instance

    @property
    def sender_label(self) -> str:
        return self.from_name or self.from_address or self.envelope_from


@receiver(pre_save, sender=Message)
def _blank_sealed_fields(sender: type[Message], instance: Message, **kwargs: Any) -> None:
    # A row loaded with some searched fields deferred keeps the column it has.
    if not instance.__dict__.get("sealed_summary") and all(
        name in instance.__dict__ for name in searchtext.FIELDS
    ):
        instance.search_text = searchtext.index_text(instance.__dict__)
    sealed.blank_before_save(instance)


@receiver(post_save, sender=Message)
def _restore_sealed_fields(sender: type[Message], instance: Message, **kwargs: Any) -> None:
    sealed.after_save(instance)
