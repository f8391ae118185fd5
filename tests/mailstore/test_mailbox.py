"""The mailbox core: what storing and removing leave behind, whole or not at all."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sealbox.accounts.models import User
from sealbox.mailstore import mailbox
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import summarize
from sealbox.outbound.models import NotificationState
from tests.intake.stored import client_bytes, files_under
from tests.mail import make_message

pytestmark = pytest.mark.django_db(transaction=True)

DATA = make_message(subject="Contract draft", body="Please find the draft below.\n" * 40)


class Refusal(Exception):
    pass


def store(
    recipients: list[str], refused: Callable[[list[Message], mailbox.Refused], None] | None = None
) -> tuple[list[Message], mailbox.Refused]:
    return mailbox.store(
        "carol@example.org", recipients, DATA, summarize(DATA), mailbox.Trace(), refused
    )


def due(user: User) -> bool:
    return NotificationState.objects.filter(user=user, due_at__isnull=False).exists()


def message_files() -> list[str]:
    return [p.name for p in files_under("messages")]


def fill(user: User) -> None:
    """A mailbox of 1 MiB that is full."""
    User.objects.filter(pk=user.pk).update(quota_mb=1, usage_bytes=1024 * 1024)


def test_each_recipient_gets_a_byte_exact_copy_counted_and_due_for_a_notification(
    alice: User, bob: User
) -> None:
    stored, refused = store([bob.email, alice.email])
    assert refused.owners == []
    assert sorted(m.owner.email for m in stored) == sorted([alice.email, bob.email])
    for message in stored:
        assert client_bytes(message) == DATA
        owner = User.objects.get(pk=message.owner_id)
        assert owner.usage_bytes == message.size
        assert due(owner)
    assert len(message_files()) == 2


def test_a_refusal_raised_in_the_transaction_keeps_nothing(alice: User, bob: User) -> None:
    fill(alice)

    def refuse(stored: list[Message], no_room: mailbox.Refused) -> None:
        assert [u.email for u in no_room.owners] == [alice.email]
        raise Refusal

    with pytest.raises(Refusal):
        store([alice.email, bob.email], refuse)
    assert not Message.objects.exists()
    assert message_files() == []
    assert User.objects.get(pk=bob.pk).usage_bytes == 0
    assert not due(bob)  # the notification rolled back with the message


def test_a_partial_store_keeps_the_copies_with_room_and_only_their_files(
    alice: User, bob: User
) -> None:
    fill(alice)
    seen: list[mailbox.Refused] = []
    stored, refused = store([alice.email, bob.email], lambda s, r: seen.append(r))
    assert [m.owner.email for m in stored] == [bob.email]
    assert [u.email for u in refused.owners] == [alice.email] == [u.email for u in seen[0].owners]
    assert refused.size > len(DATA)  # the copy's size, trace header included
    assert len(message_files()) == 1
    assert not due(alice) and due(bob)


def test_removing_releases_usage_and_the_files(alice: User) -> None:
    store([alice.email])
    assert mailbox.remove(Message.objects.filter(owner=alice)) == 1
    assert User.objects.get(pk=alice.pk).usage_bytes == 0
    assert message_files() == []
    assert mailbox.remove(Message.objects.filter(owner=alice)) == 0


def test_a_copy_in_sent_counts_whatever_the_quota_and_is_read(alice: User) -> None:
    fill(alice)
    sent = mailbox.store_sent(alice, DATA)
    assert sent.folder == Message.Folder.SENT and sent.read_at is not None
    assert User.objects.get(pk=alice.pk).usage_bytes == 1024 * 1024 + len(DATA)
    assert not due(alice)
