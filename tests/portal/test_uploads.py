"""Uploads: attachments stay in memory, never in a temporary file; oversized requests are refused unread."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import tempfile
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import Client

from sealbox.accounts.models import User
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from sealbox.portal import compose, uploads
from tests.conftest import CAROL, SEALBOX, free_port, process_env
from tests.portal.pages import deliver_to
from tests.portal.writing import PORTAL_ADDRESS, nothing_sent, original_mail, reply_url, send_form

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def upload_settings(settings: Any, tmp_path: Path, monkeypatch: Any) -> Path:
    """Temporary files, if any were made, would land here."""
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS
    settings.MAX_UPLOAD_MB = 25
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    return spool


@pytest.mark.django_db
@pytest.mark.parametrize(
    "memory_limit", [2_621_440, 5 * MIB], ids=["django-default", "old-encryption-setting"]
)
def test_a_large_attachment_with_a_long_body_never_touches_the_disk(
    reader: Client,
    alice: User,
    upload_settings: Path,
    monkeypatch: Any,
    settings: Any,
    memory_limit: int,
) -> None:
    """The reported case, scaled down: attachment and body together over the memory limit.

    The old setting with encryption on was (SEALBOX_MAX_UPLOAD_MB + 1) MiB,
    compared with the whole request: a near-limit attachment and a long body
    went to a temporary file all the same.
    """
    settings.MAX_UPLOAD_MB = 4
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = memory_limit
    original = deliver_to(alice, original_mail())
    pdf = b"%PDF-1.7\n" + os.urandom(39 * MIB // 10)
    seen_during_request: list[list[str]] = []
    real_send = compose.send

    def send_and_look(*args: Any, **kwargs: Any) -> Message:
        seen_during_request.append(os.listdir(upload_settings))
        return real_send(*args, **kwargs)

    monkeypatch.setattr(compose, "send", send_and_look)

    r = send_form(
        reader,
        reply_url(original),
        to=CAROL,
        body="Figures below.\n" + "x" * 1_800_000,
        attachments=[SimpleUploadedFile("scan.upload.pdf", pdf, "application/pdf")],
    )

    assert r.status_code == 302, r.content[:500]
    assert seen_during_request == [[]]
    assert os.listdir(upload_settings) == []
    [sent] = Message.objects.filter(owner=alice, folder=Message.Folder.SENT)
    stored = message_from_bytes(blobs.read(sent.blob), policy=policy.default)
    [attachment] = list(stored.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_content() == pdf


@pytest.mark.django_db
def test_a_request_over_the_limit_is_refused_with_413_and_nothing_is_sent(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.MAX_UPLOAD_MB = 1
    original = deliver_to(alice, original_mail())
    big = SimpleUploadedFile("scan.pdf", b"\0" * (uploads.request_limit() + 1), "application/pdf")

    r = send_form(reader, reply_url(original), to=CAROL, body="hi", attachments=[big])

    assert r.status_code == 413
    text = r.content.decode()
    assert "Too large to send" in text
    assert "attachments may add up to 1 MB at most" in text
    assert nothing_sent()


@pytest.mark.django_db
def test_attachments_just_over_the_limit_get_the_forms_own_message(
    reader: Client, alice: User, settings: Any
) -> None:
    """Between the attachment limit and the request limit the form says what is wrong."""
    settings.MAX_UPLOAD_MB = 1
    original = deliver_to(alice, original_mail())
    big = SimpleUploadedFile("scan.pdf", b"\0" * (MIB + MIB // 2), "application/pdf")

    r = send_form(reader, reply_url(original), to=CAROL, body="hi", attachments=[big])

    assert r.status_code == 200
    assert "Attachments may add up to 1 MB at most." in r.content.decode()


def _raw_request(url: str, headers: str) -> bytes:
    """Send request headers only, no body; the server's whole answer (within ten seconds)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(headers.encode())
        answer = b""
        while b"</html>" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_an_oversized_request_is_refused_before_its_body_is_sent(
    live_server: Any, settings: Any
) -> None:
    settings.MAX_UPLOAD_MB = 25
    answer = _raw_request(
        live_server.url,
        "POST /write/ HTTP/1.1\r\n"
        "Host: localhost\r\n"
        "Content-Type: multipart/form-data; boundary=b0undary\r\n"
        f"Content-Length: {uploads.request_limit() + 1}\r\n"
        "\r\n",
    )

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"attachments may add up to 25 MB at most" in answer


def test_a_request_body_of_unknown_length_is_refused_before_it_is_sent(
    live_server: Any,
) -> None:
    answer = _raw_request(
        live_server.url,
        "POST /write/ HTTP/1.1\r\n"
        "Host: localhost\r\n"
        "Content-Type: multipart/form-data; boundary=b0undary\r\n"
        "Transfer-Encoding: chunked\r\n"
        "\r\n",
    )

    assert answer.startswith(b"HTTP/1.1 411 "), answer[:200]
    assert b"did not say how large the form was" in answer


def test_a_body_past_the_limit_that_reached_the_parser_anyway_is_cut_off(settings: Any) -> None:
    """The upload handler counts too: the middleware is not the only guard."""
    settings.MAX_UPLOAD_MB = 1
    limit = uploads.request_limit()
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="attachments"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"\1" * (limit + MIB) + b"\r\n"
        b"--b0undary--\r\n"
    )
    meta = {
        "CONTENT_TYPE": "multipart/form-data; boundary=b0undary",
        "CONTENT_LENGTH": str(len(body)),
    }
    handlers = [uploads.MemoryOnlyUploadHandler()]
    parser = MultiPartParser(meta, io.BytesIO(body), handlers)

    with pytest.raises(RequestDataTooBig):
        parser.parse()
    assert handlers[0].received <= limit + 256 * 1024


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_answers_413_before_the_body_is_sent(settings: Any) -> None:
    """The same against the production server, `sealbox web`."""
    port = free_port()
    env = process_env(settings.DATA_DIR, SEALBOX_MAX_UPLOAD_MB="1", SEALBOX_WEB_WORKERS="1")
    proc = subprocess.Popen(
        [*SEALBOX, "web", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "sealbox web did not start"
                time.sleep(0.2)
        started = time.monotonic()
        answer = _raw_request(
            f"http://127.0.0.1:{port}",
            "POST /write/ HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {100 * MIB}\r\n"
            "\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert time.monotonic() - started < 10
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
