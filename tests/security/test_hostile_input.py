"""Hostile mail and hostile form input found in review: each must fail safe."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from email import message_from_bytes, policy
from typing import Any

from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore import blobs
from sealbox.mailstore.mailbox import Trace
from sealbox.mailstore.models import Message
from sealbox.mailstore.sanitize import has_remote_images
from sealbox.mailstore.summary import summarize
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL


def png() -> bytes:
    raw = b"\x00" + b"\x0b\x5c\xad" * 4
    body = raw * 4

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(body))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def store(raw: bytes, to: str = "alice@example.net", trace: Trace | None = None) -> Message:
    [message] = deliver(CAROL, [to], raw, trace)
    return message


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_lone_cr_cannot_smuggle_a_second_from_header() -> None:
    raw = (
        b"X-Note: a\rFrom: CEO <ceo@corp.example>\r\n"
        b"From: attacker@evil.test\r\nSubject: hi\r\n\r\nbody\r\n"
    )

    summary = summarize(raw)

    assert summary.from_address == "attacker@evil.test"
    assert "CEO" not in summary.from_name


def test_a_double_encoded_message_id_is_not_kept(alice: User, settings: Any) -> None:
    settings.READ_RECEIPTS = "requested"
    inner = "=?utf-8?q?<x@y>=0D=0AContent-Type:_text/html=0D=0A=0D=0A<h1>Urgent</h1>?="
    outer = base64.b64encode(inner.encode()).decode()
    raw = (
        f"From: {CAROL}\r\nTo: alice@example.net\r\nSubject: hi\r\n"
        f"Message-ID: =?utf-8?b?{outer}?=\r\nDisposition-Notification-To: {CAROL}\r\n\r\nbody\r\n"
    ).encode()

    message = store(raw)

    assert message.message_id == ""
    assert signed_in(alice).get(reverse("message", args=[message.id])).status_code == 200
    [item] = OutgoingEmail.objects.filter(kind="receipt")
    parsed = message_from_bytes(bytes(item.data), policy=policy.default)
    assert "<h1>Urgent</h1>" not in parsed.get_body(("plain",)).get_content()
    assert parsed.get_content_type() == "multipart/report"


def test_a_subject_whose_encoded_word_hides_a_line_break_is_refused(alice: User) -> None:
    original = store(
        f"From: {CAROL}\r\nTo: alice@example.net\r\nSubject: hi\r\n"
        "Message-ID: <orig-1@corp.example>\r\n\r\nbody\r\n".encode()
    )
    subject = "=?utf-8?q?Re:_q=0D=0ABcc:_boss@corp.example=0D=0A=0D=0A<h1>Fake</h1>?="

    response = signed_in(alice).post(
        reverse("reply", args=[original.id]), {"to": CAROL, "subject": subject, "body": "x"}
    )

    assert response.status_code == 200
    assert "a field contains text that is not allowed" in response.content.decode()
    assert not OutgoingEmail.objects.filter(kind="reply").exists()
    assert not Message.objects.filter(folder=Message.Folder.SENT).exists()


def test_relay_addresses_that_a_relay_could_route_elsewhere_are_refused(
    alice: User, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True
    client = signed_in(alice)
    for address in (
        "outsider%gmail.com@corp.example",
        '"x@evil.test"@corp.example',
        "evil.com!victim@corp.example",
    ):
        response = client.post(reverse("compose"), {"to": address, "subject": "s", "body": "b"})
        assert response.status_code == 200
        assert "is not a valid email address" in response.content.decode()
    assert not OutgoingEmail.objects.exists()


def test_a_receipt_never_goes_to_a_third_address_the_message_names(
    alice: User, settings: Any
) -> None:
    settings.READ_RECEIPTS = "requested"
    message = store(
        f"From: {CAROL}\r\nTo: alice@example.net\r\nSubject: hi\r\n"
        "Message-ID: <m1@corp.example>\r\nDisposition-Notification-To: boss@corp.example\r\n"
        "\r\nbody\r\n".encode()
    )

    assert signed_in(alice).get(reverse("message", args=[message.id])).status_code == 200

    assert not OutgoingEmail.objects.filter(kind="receipt").exists()


def test_a_receipt_header_the_parser_chokes_on_does_not_stop_reading(alice: User) -> None:
    message = store(
        f"From: {CAROL}\r\nTo: alice@example.net\r\nSubject: hi\r\n"
        f"Disposition-Notification-To: {'(' * 3000}\r\n\r\nreadable body\r\n".encode()
    )

    response = signed_in(alice).get(reverse("message", args=[message.id]))

    assert response.status_code == 200
    assert "readable body" in response.content.decode()
    message.refresh_from_db()
    assert message.read_at is not None


def test_one_image_used_many_times_cannot_blow_up_the_frame(alice: User, settings: Any) -> None:
    image = base64.b64encode(png() + b"\x00" * 1024 * 1024).decode()  # just over 1 MB
    html = "<p>x</p>" + '<img src="cid:logo">' * 100
    raw = (
        f"From: {CAROL}\r\nTo: alice@example.net\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/related; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/html\r\n\r\n{html}\r\n"
        "--b\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{image}\r\n--b--\r\n"
    ).encode()
    message = store(raw)

    frame = signed_in(alice).get(reverse("message-body", args=[message.id]))

    assert frame.status_code == 200
    shown = frame.content.count(b"data:image/png;base64,")
    assert 1 <= shown <= 20  # a 20 MB budget for inline images, each use counted
    assert len(frame.content) < 40 * 1024 * 1024


def test_a_listed_content_type_cannot_pass_as_a_script(alice: User) -> None:
    raw = (
        f"From: {CAROL}\r\nTo: alice@example.net\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        '--b\r\nContent-Type: text/javascript,a\r\nContent-Disposition: attachment; filename="x.js"'
        "\r\n\r\nalert(1)\r\n--b--\r\n"
    ).encode()
    message = store(raw)
    client = signed_in(alice)
    page = client.get(reverse("message", args=[message.id])).content.decode()
    [link] = re.findall(r'href="(/m/[^"]+/attachment/\d+/)"', page)

    download = client.get(link)

    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"alert(1)"
    assert download["Content-Type"] == "application/octet-stream"


def test_remote_images_are_found_in_any_tag_layout() -> None:
    assert has_remote_images('<p><IMG alt="logo" SRC="https://t.example/p.gif"></p>')
    assert has_remote_images("<img src=//t.example/p.gif>")
    assert not has_remote_images('<img src="cid:logo"><img src="data:image/png;base64,AAAA">')
    assert not has_remote_images("<img " * 5000)
    assert has_remote_images("<img " * 5000 + '<img src="http://t.example/x">')


def test_a_helo_name_cannot_add_lines_to_the_trace_header(alice: User) -> None:
    raw = f"From: {CAROL}\r\nTo: alice@example.net\r\nSubject: hi\r\n\r\nbody\r\n".encode()

    message = store(raw, trace=Trace(helo="evil\rX-Injected: yes", client_ip="127.0.0.1"))

    stored = blobs.read(message.blob)
    head = stored[: stored.index(raw)]
    assert b"\r" not in head.replace(b"\r\n", b"")
    assert b"X-Injected: yes" not in head.split(b"\r\n")


def test_an_opened_link_keeps_only_the_token_hash_in_the_session(db: Any) -> None:
    from sealbox.accounts.models import LinkToken

    user, _ = User.objects.recipient("dora@example.com")
    raw = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
    client = Client()

    opened = client.get(reverse("activate", args=[raw]))
    form = client.get(opened["Location"])

    assert opened.status_code == 302
    assert form.status_code == 200
    assert "dora@example.com" in form.content.decode()
    assert raw not in str(dict(client.session.items()))
