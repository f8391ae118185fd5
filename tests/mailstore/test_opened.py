"""opened: a stored message is parsed once, its view kept, its attachments streamed from the file."""

from __future__ import annotations

import os
import random
import threading
import tracemalloc
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.housekeeping import retention
from sealbox.mailstore import blobs, mime, opened, skeleton
from sealbox.mailstore.models import Message
from sealbox.operator import actions
from tests import corpus
from tests.mailstore.test_mime import _mangle
from tests.portal.pages import content, deliver_to, listed_attachments, message_url, page

pytestmark = pytest.mark.django_db

MARKER = "Quarterly figures, marker 5c1e"
BIG = 24 * 1024 * 1024


def big_message(size: int = BIG, subject: str = "Big one") -> tuple[bytes, bytes]:
    """A message with a text and an HTML body and an attachment of `size` random bytes."""
    msg = EmailMessage()
    msg["From"] = "carol@corp.example"
    msg["To"] = "alice@example.net"
    msg["Subject"] = subject
    msg.set_content(f"{MARKER} in the text.\n")
    msg.add_alternative(f"<p>{MARKER} in the HTML.</p>", subtype="html")
    data = os.urandom(size)
    msg.add_attachment(data, maintype="application", subtype="zip", filename="data.zip")
    msg.add_attachment(b"%PDF-1.4 small", maintype="application", subtype="pdf", filename="a.pdf")
    return msg.as_bytes(policy=SMTP), data


def test_a_big_message_is_parsed_once_for_the_page_the_frame_and_a_new_process(
    reader: Client, alice: User
) -> None:
    raw, _ = big_message()
    message = deliver_to(alice, raw)
    before = opened.parses

    first = page(reader.get(message_url(message)))
    opened.clear_memory()  # as in another worker: only the derived file is left
    second = page(reader.get(message_url(message)))
    frame = reader.get(message_url(message, "message-body"))

    assert first.text == second.text
    assert [a.name for a in listed_attachments(second)] == ["data.zip", "a.pdf"]
    assert MARKER in content(frame).decode()
    assert opened.parses == before + 1


@pytest.mark.parametrize("name", ["data.zip", "a.pdf"])
def test_attachments_of_a_big_message_stream_byte_for_byte(
    reader: Client, alice: User, name: str
) -> None:
    raw, data = big_message()
    message = deliver_to(alice, raw)
    links = {a.name: a.url for a in listed_attachments(page(reader.get(message_url(message))))}

    response = reader.get(links[name])

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    body = content(response)
    assert body == (data if name == "data.zip" else b"%PDF-1.4 small")
    assert response["Content-Length"] == str(len(body))


def test_the_eml_of_a_big_message_streams_byte_for_byte(reader: Client, alice: User) -> None:
    raw, _ = big_message()
    message = deliver_to(alice, raw)

    response = reader.get(message_url(message, "message-eml"))

    stored = blobs.read(message.blob)
    assert stored.endswith(raw)  # as delivered, with the trace headers in front
    assert isinstance(response, StreamingHttpResponse)
    assert content(response) == stored
    assert response["Content-Length"] == str(len(stored))


@pytest.mark.parametrize("build", corpus.BUILDERS, ids=lambda b: b.__name__)
def test_the_skeleton_of_a_message_shows_what_the_whole_message_shows(
    build: Callable[[], corpus.Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = build().raw
    monkeypatch.setattr(skeleton, "MIN_RUN", 1)  # cut every base64 run, however short
    whole = mime.view(raw)
    reader = blobs.BytesReader(raw)

    cut = mime.view_of(reader)

    assert skeleton.build(reader.chunks(), 1).cuts or b"base64" not in raw.lower()
    for name in ("subject", "sender", "to", "date", "html", "text", "more_text", "problems"):
        assert getattr(cut, name) == getattr(whole, name), name
    assert len(cut.attachments) == len(whole.attachments)
    for a, b in zip(cut.attachments, whole.attachments, strict=True):
        assert (a.index, a.filename, a.content_type, a.size) == (
            b.index,
            b.filename,
            b.content_type,
            b.size,
        )
        part = whole.part(b.index)
        assert part is not None
        expected = (
            mime.rfc822_bytes(part, whole.linesep)
            if b.content_type == "message/rfc822"
            else mime.payload_bytes(part)
        )
        assert a.body is not None
        assert b"".join(mime.attachment_chunks(reader, a.body, a.encoding)) == expected


@pytest.mark.parametrize("seed", range(40))
def test_the_skeleton_of_damaged_mail_shows_and_downloads_what_the_whole_message_does(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skeleton, "MIN_RUN", 1)
    rng = random.Random(seed)
    builders = [b for b in corpus.BUILDERS if b is not corpus.big_attachment]
    for raw in [_mangle(build().raw, rng) for build in builders]:
        whole = mime.view(raw)
        reader = blobs.BytesReader(raw)

        cut = mime.view_of(reader)

        assert (cut.html, cut.text, cut.more_text, cut.problems) == (
            whole.html,
            whole.text,
            whole.more_text,
            whole.problems,
        )
        assert [(a.index, a.filename, a.size) for a in cut.attachments] == [
            (a.index, a.filename, a.size) for a in whole.attachments
        ]
        for a in cut.attachments:
            part = whole.part(a.index)
            assert part is not None and a.body is not None
            data = b"".join(mime.attachment_chunks(reader, a.body, a.encoding))
            if a.content_type != "message/rfc822":
                assert data == mime.payload_bytes(part)


def test_a_forwarded_message_too_big_to_keep_in_pieces_downloads_from_a_new_parse(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mime, "MAX_KEPT_LITERAL", 0)
    sample = corpus.forwarded()
    [expected] = sample.attachments
    message = deliver_to(alice, sample.raw)
    [item] = listed_attachments(page(reader.get(message_url(message))))
    before = opened.parses

    response = reader.get(item.url)

    assert content(response) == expected.data
    assert response["Content-Length"] == str(len(expected.data))
    assert opened.parses == before + 1


# --- Removed with the message -----------------------------------------------------------


def opened_message(reader: Client, alice: User) -> Message:
    message = deliver_to(alice, big_message(64 * 1024)[0])
    assert reader.get(message_url(message)).status_code == 200
    assert blobs.derived_files(message.id)
    return message


def test_deleting_a_message_removes_its_view(
    reader: Client,
    alice: User,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    message = opened_message(reader, alice)

    with django_capture_on_commit_callbacks(execute=True):
        reader.post(message_url(message, "message-delete"))

    assert not Message.objects.filter(id=message.id).exists()
    assert blobs.derived_files(message.id) == []


def test_the_clean_up_removes_the_view_of_an_expired_message(
    reader: Client,
    alice: User,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    message = opened_message(reader, alice)
    settings.RETENTION_DAYS = 30
    Message.objects.filter(id=message.id).update(received_at=timezone.now() - timedelta(days=31))

    with django_capture_on_commit_callbacks(execute=True):
        retention.cleanup()

    assert blobs.derived_files(message.id) == []


def test_the_clean_up_removes_views_whose_message_is_gone(reader: Client, alice: User) -> None:
    kept = opened_message(reader, alice)
    gone = opened_message(reader, alice)
    Message.objects.filter(id=gone.id).delete()  # as if deleted while its view was written
    [left] = blobs.derived_files(gone.id)
    os.utime(left, (0, 0))

    retention.cleanup()

    assert blobs.derived_files(gone.id) == []
    assert blobs.derived_files(kept.id)


def test_deleting_an_account_removes_the_views_of_its_messages(
    reader: Client,
    alice: User,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    message = opened_message(reader, alice)

    with django_capture_on_commit_callbacks(execute=True):
        actions.delete_account(actions.Actor.command_line(), User.objects.get(pk=alice.pk))

    assert blobs.derived_files(message.id) == []
    assert not list(blobs.all_derived())


def test_the_view_does_not_count_against_the_quota(reader: Client, alice: User) -> None:
    message = opened_message(reader, alice)
    alice.refresh_from_db()

    assert alice.usage_bytes == message.size


# --- Parallel opens -----------------------------------------------------------------------


def in_parallel(alice: User, urls: list[str]) -> list[Any]:
    """GET each url from its own signed-in client, all at once."""
    clients = []
    for _ in urls:
        client = Client()
        client.force_login(alice)
        clients.append(client)
    barrier = threading.Barrier(len(urls))
    responses: list[Any] = [None] * len(urls)

    def get(i: int) -> None:
        barrier.wait()
        responses[i] = clients[i].get(urls[i])

    threads = [threading.Thread(target=get, args=(i,)) for i in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return responses


@pytest.mark.django_db(transaction=True)
def test_parallel_opens_of_one_big_message_parse_it_once(alice: User) -> None:
    message = deliver_to(alice, big_message()[0])
    before = opened.parses

    responses = in_parallel(alice, [message_url(message)] * 4)

    assert [r.status_code for r in responses] == [200] * 4
    assert all("Big one" in content(r).decode() for r in responses)
    assert opened.parses == before + 1


@pytest.mark.django_db(transaction=True)
def test_big_parses_beyond_the_slots_answer_busy_and_work_later(
    alice: User, settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings.PARSE_SLOTS = 1
    monkeypatch.setattr(opened, "PARSE_WAIT_SECONDS", 0.01)
    messages = [deliver_to(alice, big_message(BIG, f"Big {i}")[0]) for i in range(3)]
    before = opened.parses

    responses = in_parallel(alice, [message_url(m) for m in messages])

    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200 and statuses[-1] == 503, statuses
    busy = next(r for r in responses if r.status_code == 503)
    assert "Busy, please try again" in content(busy).decode()
    assert busy["Retry-After"] == "10"
    # Logged once as a warning where it happens, not again as a server error per request.
    assert "no parse slot free" in caplog.text
    assert not [r for r in caplog.records if r.name == "django.request"]
    assert opened.parses == before + statuses.count(200)
    client = Client()
    client.force_login(alice)
    assert [client.get(message_url(m)).status_code for m in messages] == [200] * 3


def test_small_messages_do_not_wait_for_a_slot(
    reader: Client, alice: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PARSE_SLOTS = 1
    monkeypatch.setattr(opened, "PARSE_WAIT_SECONDS", 0.01)
    slot = opened._slot()
    message = deliver_to(alice, big_message(64 * 1024)[0])
    assert slot.acquire(timeout=1)  # a big parse is running
    try:
        response = reader.get(message_url(message))
    finally:
        slot.release()

    assert response.status_code == 200


def test_a_derived_file_that_does_not_read_is_made_again(reader: Client, alice: User) -> None:
    message = opened_message(reader, alice)
    [path] = blobs.derived_files(message.id)
    Path(path).write_bytes(b'{"format": 1, "cut')
    opened.clear_memory()

    response = reader.get(message_url(message))

    assert response.status_code == 200
    assert "Big one" in response.content.decode()
    [again] = blobs.derived_files(message.id)
    assert b"cut" not in again.read_bytes()


@pytest.mark.parametrize("receipts", ["off", "always"])
def test_opening_a_big_message_holds_a_fraction_of_it_in_memory(
    reader: Client, alice: User, settings: Any, receipts: str
) -> None:
    settings.READ_RECEIPTS = receipts
    raw, _ = big_message()
    message = deliver_to(alice, raw)
    del raw

    tracemalloc.start()
    try:
        response = reader.get(message_url(message))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert response.status_code == 200
    assert peak < message.size / 4, (
        f"{peak / 2**20:.1f} MiB for a {message.size / 2**20:.0f} MiB message"
    )


def test_a_frame_is_sanitised_once_per_message_whichever_process_shows_it(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.portal import frame, views

    message = deliver_to(alice, big_message(64 * 1024)[0])
    made: list[bool] = []
    sanitise = frame.clean_html_in_time

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(args[2])  # allow_remote
        return sanitise(*args, **kwargs)

    monkeypatch.setattr(frame, "clean_html_in_time", counted)
    assert reader.get(message_url(message)).status_code == 200
    first = content(reader.get(message_url(message, "message-body")))

    views.frames.clear()  # as in another worker, or once the frame left the cache
    opened.clear_memory()
    again = content(reader.get(message_url(message, "message-body")))

    assert MARKER in first.decode()
    assert again == first
    assert made == [False]

    # A new sanitiser (or frame code) makes it again, and keeps that instead.
    monkeypatch.setattr(frame, "MADE_BY", "another sanitiser")
    views.frames.clear()
    assert content(reader.get(message_url(message, "message-body"))) == first
    views.frames.clear()
    assert content(reader.get(message_url(message, "message-body"))) == first
    assert made == [False, False]

    # Remote images asked for: made for the request, never kept.
    for _ in range(2):
        views.frames.clear()
        remote = reader.get(message_url(message, "message-body") + "?remote=1")
        assert MARKER in content(remote).decode()
    assert made == [False, False, True, True]


def test_a_frame_made_in_another_worker_is_found_though_this_one_read_the_view_before(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.portal import frame

    message = deliver_to(alice, big_message(64 * 1024)[0])
    assert reader.get(message_url(message)).status_code == 200
    looked: list[bool] = []
    derived_files = blobs.derived_files
    monkeypatch.setattr(blobs, "derived_files", lambda i: looked.append(True) or derived_files(i))
    seen_here = dict(opened._uncleaned)
    # Another worker sanitises it and keeps the result while this one still has the view.
    kept = "<p>sanitised in another worker</p>"
    opened.keep_cleaned_html(message, frame.MADE_BY, kept)
    opened._uncleaned.update(seen_here)

    frame = content(reader.get(message_url(message, "message-body"))).decode()

    assert kept in frame
    assert looked  # the file changed since this worker read it: read again


def test_a_frames_first_load_does_not_read_the_view_it_just_kept_again(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = deliver_to(alice, big_message(64 * 1024)[0])
    assert reader.get(message_url(message)).status_code == 200
    looked: list[bool] = []
    derived_files = blobs.derived_files
    monkeypatch.setattr(blobs, "derived_files", lambda i: looked.append(True) or derived_files(i))

    frame = content(reader.get(message_url(message, "message-body"))).decode()

    assert MARKER in frame
    assert looked == []
