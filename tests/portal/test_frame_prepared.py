"""The worker makes a new message's frame before a reader asks (portal/frame.prepare_new)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from sealbox.accounts.models import User
from sealbox.mailstore import opened
from sealbox.portal import frame, views
from tests.mail import make_message
from tests.portal.pages import content, deliver_to, message_url
from tests.portal.test_message import html_mail

pytestmark = pytest.mark.django_db(transaction=True)


def no_sanitising(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the frame was sanitised on its load")


def test_the_worker_makes_new_frames_and_their_first_load_only_reads_them(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = deliver_to(alice, html_mail('<p class="x">Autumn news <b>inside</b></p>'))
    plain = deliver_to(alice, make_message(subject="Plain text only"))

    call_command("worker", "--once")

    assert opened.cleaned_html(message, frame.MADE_BY) is not None
    assert opened.cleaned_html(plain, frame.MADE_BY) is None  # no HTML: nothing to make
    opened.clear_memory()  # as a web worker that never saw the message
    views.frames.clear()
    monkeypatch.setattr(frame, "clean_html_in_time", no_sanitising)
    body = content(reader.get(message_url(message, "message-body"))).decode()
    assert "Autumn news <b>inside</b>" in body


def test_a_message_is_prepared_once_and_a_new_sanitiser_makes_it_again(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = deliver_to(alice, html_mail("<p>Hello</p>"))
    assert frame.prepare_new() == 1
    assert frame.prepare_new() == 0  # remembered in this process
    assert frame.prepare(message) is False  # kept: nothing to make
    monkeypatch.setattr(frame, "MADE_BY", "another sanitiser")
    assert frame.prepare(message) is True


def test_remote_images_are_still_made_for_the_request(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = deliver_to(alice, html_mail('<p>News</p><img src="https://t.example/p.gif">'))
    frame.prepare_new()
    made: list[bool] = []
    sanitise = frame.clean_html_in_time

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(args[2])
        return sanitise(*args, **kwargs)

    monkeypatch.setattr(frame, "clean_html_in_time", counted)
    views.frames.clear()
    reader.get(message_url(message, "message-body"))
    reader.get(message_url(message, "message-body") + "?remote=1")
    assert made == [True]


def test_nothing_is_prepared_or_kept_when_new_mail_needs_the_space(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox import diskspace

    message = deliver_to(alice, html_mail("<p>Short of space</p>"))
    monkeypatch.setattr(diskspace, "has_room", lambda size: False)
    assert frame.prepare_new() == 0
    views.frames.clear()
    body = content(reader.get(message_url(message, "message-body"))).decode()
    assert "Short of space" in body  # made for the reader all the same
    assert opened.cleaned_html(message, frame.MADE_BY) is None  # and not kept


def test_a_prepared_frame_is_read_from_its_file_once_on_first_load(
    reader: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sealbox.mailstore import blobs

    message = deliver_to(alice, html_mail("<p>Read once</p>"))
    assert frame.prepare(message)
    opened.clear_memory()  # a web worker that never saw the message
    views.frames.clear()
    looked: list[object] = []
    derived_files = blobs.derived_files
    monkeypatch.setattr(blobs, "derived_files", lambda i: looked.append(i) or derived_files(i))
    monkeypatch.setattr(frame, "clean_html_in_time", no_sanitising)
    body = content(reader.get(message_url(message, "message-body"))).decode()
    assert "Read once" in body
    assert len(looked) == 1  # the view and its sanitised HTML from one reading of the file
