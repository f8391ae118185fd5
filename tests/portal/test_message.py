"""The message page and its sandboxed frame: headers, body, remote images, read state, delete."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.mailstore import opened
from sealbox.mailstore.models import Message
from tests.browser.content import pdf
from tests.conftest import CAROL
from tests.corpus import crlf, headers, nested
from tests.mail import make_message
from tests.portal.pages import deliver_to, flash, main_text, message_url, page, parse_html

pytestmark = pytest.mark.django_db

REMOTE_NOTICE = "Remote images are blocked to protect your privacy"
TRACKER = "https://tracker.example/open.png?id=alice"


def html_mail(html: str, text: str | None = None, subject: str = "Newsletter") -> bytes:
    if text is None:
        return headers(subject, "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n") + (
            b"\r\n" + html.encode()
        )
    return headers(
        subject, 'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="a"\n'
    ) + crlf(
        f"\n--a\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
        f"--a\nContent-Type: text/html; charset=utf-8\n\n{html}\n--a--\n"
    )


def page_heading(response: Any) -> str:
    return parse_html(response.content).one("h1").text


def csp(value: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as directive -> sources."""
    result = {}
    for directive in value.split(";"):
        name, *sources = directive.split()
        result[name] = sources
    return result


# --- Headers of the page and the frame ---------------------------------------------


def test_the_message_page_is_under_a_strict_policy_and_cannot_be_framed(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, make_message())

    response = reader.get(message_url(message))

    assert response.status_code == 200
    policy = csp(response["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert "no-cache" in response["Cache-Control"]


def test_the_frame_answers_with_its_own_strict_policy(reader: Client, alice: User) -> None:
    message = deliver_to(alice, html_mail("<p>Hello</p>"))

    response = reader.get(message_url(message, "message-body"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert csp(response["Content-Security-Policy"]) == {
        "default-src": ["'none'"],
        "img-src": ["data:"],
        "style-src": ["'unsafe-inline'"],
        "font-src": ["'none'"],
        "form-action": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'self'"],
        # Same origin, so that the portal's own script can size the frame; never
        # allow-scripts, so that nothing in it runs (docs/reading.md).
        "sandbox": ["allow-same-origin", "allow-popups", "allow-popups-to-escape-sandbox"],
    }
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_the_frame_is_sandboxed_without_scripts_forms_or_navigation(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, html_mail("<p>Hello</p>"))

    frame = page(reader.get(message_url(message))).one("iframe")

    tokens = frame.attrs["sandbox"].split()
    # The same sandbox as the frame's own CSP says; allow-same-origin is safe
    # only because allow-scripts is never there with it.
    assert sorted(tokens) == [
        "allow-popups",
        "allow-popups-to-escape-sandbox",
        "allow-same-origin",
    ]
    assert "allow-scripts" not in tokens
    assert "allow-forms" not in tokens
    assert "allow-top-navigation" not in tokens
    assert frame.attrs["src"] == message_url(message, "message-body")
    assert frame.attrs["referrerpolicy"] == "no-referrer"


def test_the_frame_shows_sanitised_html_with_links_to_new_tabs(reader: Client, alice: User) -> None:
    message = deliver_to(
        alice,
        html_mail(
            '<p onclick="alert(1)">Hello <b>Alice</b></p><script>alert(2)</script>'
            '<a href="https://corp.example/offer">the offer</a>'
        ),
    )

    frame = reader.get(message_url(message, "message-body")).content.decode()

    assert (
        '<p>Hello <b>Alice</b></p><a href="https://corp.example/offer" target="_blank" rel="noopener noreferrer">the offer</a>'
        in frame
    )
    assert "alert" not in frame
    assert "<script" not in frame


def test_a_message_without_html_has_no_frame_document(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())

    assert reader.get(message_url(message, "message-body")).status_code == 404


# --- Remote images -------------------------------------------------------------------


def test_remote_images_are_blocked_until_the_reader_asks(reader: Client, alice: User) -> None:
    message = deliver_to(alice, html_mail(f'<p>News</p><img src="{TRACKER}" alt="t">'))

    doc = page(reader.get(message_url(message)))
    frame = reader.get(message_url(message, "message-body"))

    notice = doc.one("p", cls="remote")
    assert REMOTE_NOTICE in notice.text
    assert notice.one("a").text == "Show remote images"
    assert notice.one("a").attrs["href"] == "?remote=1"
    assert "tracker.example" not in frame.content.decode()
    assert "https:" not in csp(frame["Content-Security-Policy"])["img-src"]


def test_showing_remote_images_loads_them_for_this_message(reader: Client, alice: User) -> None:
    message = deliver_to(alice, html_mail(f'<p>News</p><img src="{TRACKER}" alt="t">'))

    doc = page(reader.get(message_url(message) + "?remote=1"))
    iframe_src = doc.one("iframe").attrs["src"]
    frame = reader.get(iframe_src)

    assert REMOTE_NOTICE not in doc.text
    assert iframe_src == message_url(message, "message-body") + "?remote=1"
    assert f'<img src="{TRACKER.replace("&", "&amp;")}" alt="t">' in frame.content.decode()
    assert "https:" in csp(frame["Content-Security-Policy"])["img-src"]
    # Another message still blocks them.
    other = deliver_to(alice, html_mail(f'<img src="{TRACKER}">', subject="Other"))
    assert REMOTE_NOTICE in page(reader.get(message_url(other))).text


def test_no_notice_for_a_message_without_remote_images(reader: Client, alice: User) -> None:
    message = deliver_to(alice, html_mail('<p>Only text <a href="https://x.example/">link</a></p>'))

    assert REMOTE_NOTICE not in page(reader.get(message_url(message))).text


# --- Body -------------------------------------------------------------------------------


def test_html_and_text_mail_offers_the_plain_text(reader: Client, alice: User) -> None:
    message = deliver_to(
        alice, html_mail("<p>Rich <b>text</b></p>", text="Plain   text\n  indented")
    )

    html_page = page(reader.get(message_url(message)))
    text_page = page(reader.get(message_url(message) + "?view=text"))

    assert html_page.one("a", href="?view=text").text == "Show plain text"
    assert html_page.find("div", cls="text-body") is None
    assert text_page.find("iframe") is None
    assert text_page.one("div", cls="text-body").raw_text == "Plain   text\n  indented"
    assert text_page.one("a", href="?view=html").text == "Show formatted version"


def test_an_unknown_view_shows_the_html(reader: Client, alice: User) -> None:
    message = deliver_to(alice, html_mail("<p>Rich</p>", text="Plain"))

    doc = page(reader.get(message_url(message) + "?view=source"))

    assert doc.find("iframe") is not None
    assert doc.find("div", cls="text-body") is None


def test_plain_text_keeps_its_whitespace_escapes_markup_and_links_urls(
    reader: Client, alice: User
) -> None:
    body = (
        "Name      Amount\n"
        "Coffee     4.20\n\n"
        "<script>alert(1)</script> & <b>not bold</b>\n"
        "See https://corp.example/a?b=1&c=2. Or www.corp.example, or mailto:carol@corp.example\n"
    )
    message = deliver_to(alice, make_message(body=body))

    response = reader.get(message_url(message))
    text_body = page(response).one("div", cls="text-body")

    assert text_body.raw_text == body
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;" in html
    links = [
        (a.attrs["href"], a.text, a.attrs["target"], a.attrs["rel"])
        for a in text_body.find_all("a")
    ]
    assert links == [
        (
            "https://corp.example/a?b=1&c=2",
            "https://corp.example/a?b=1&c=2",
            "_blank",
            "noopener noreferrer",
        ),
        ("https://www.corp.example", "www.corp.example", "_blank", "noopener noreferrer"),
        ("mailto:carol@corp.example", "mailto:carol@corp.example", "_blank", "noopener noreferrer"),
    ]


def test_javascript_in_plain_text_is_not_made_a_link(reader: Client, alice: User) -> None:
    message = deliver_to(
        alice, make_message(body='javascript:alert(1) "https://ok.example/"onmouseover=x\n')
    )

    text_body = page(reader.get(message_url(message))).one("div", cls="text-body")

    assert [a.attrs["href"] for a in text_body.find_all("a")] == ["https://ok.example/"]
    assert "onmouseover" not in "".join(a.attrs.get("href", "") for a in text_body.find_all("a"))


def test_the_header_block_is_decoded_and_escaped(reader: Client, alice: User) -> None:
    raw = crlf(
        "From: =?utf-8?q?Jos=C3=A9_=3Cb=3EGarc=C3=ADa=3C/b=3E?= <jose@example.es>\n"
        "To: =?iso-8859-1?q?Andr=E9?= <alice@example.net>\n"
        "Cc: =?koi8-r?b?6dLJzsE=?= <irina@example.ru>\n"
        "Subject: =?utf-8?q?<script>alert(1)</script>_Gr=C3=BC=C3=9Fe?=\n"
        "Date: Fri, 20 Nov 2026 10:30:00 +0100\n\nhi\n"
    )
    message = deliver_to(alice, raw)

    response = reader.get(message_url(message))

    doc = page(response)
    assert doc.one("h1", id="subject").text == "<script>alert(1)</script> Grüße"
    fields = dict(
        zip(
            (dt.text for dt in doc.find_all("dt")),
            (dd.text for dd in doc.find_all("dd")),
            strict=True,
        )
    )
    assert fields == {
        "From": "José <b>García</b> <jose@example.es>",
        "To": "André <alice@example.net>",
        "Cc": "Ирина <irina@example.ru>",
        "Date": "Nov. 20, 2026, 9:30 a.m.",
    }
    assert "<script>alert(1)" not in response.content.decode()


def test_other_text_parts_are_shown_not_lost(reader: Client, alice: User) -> None:
    raw = headers(
        "Two texts", 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n'
    ) + crlf(
        "\n--m\nContent-Type: text/plain\n\nFirst part.\n"
        "--m\nContent-Type: text/plain\n\nSecond part.\n--m--\n"
    )
    message = deliver_to(alice, raw)

    bodies = page(reader.get(message_url(message))).find_all("div", cls="text-body")

    assert [b.raw_text for b in bodies] == ["First part.", "Second part."]


def test_a_damaged_message_says_so(reader: Client, alice: User) -> None:
    raw = (
        headers("Broken", 'Content-Type: multipart/mixed; boundary="x"\n')
        + b"\r\nno parts here\r\n"
    )
    message = deliver_to(alice, raw)

    text = main_text(reader.get(message_url(message)))

    assert "no parts here" in text
    assert "Parts of this message are damaged or unusual." in text


def test_a_nested_message_lists_its_attachment_but_not_its_inline_logo(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, nested().raw)

    doc = page(reader.get(message_url(message)))

    section = doc.one("section", cls="attachments")
    assert section.one("h2").text == "1 attachment"
    assert [a.text for a in section.find_all("a", cls="name")] == ["Q3 report.pdf"]


# --- HTML that would cost too much to sanitise ------------------------------------------

TOO_COSTLY_NOTICE = "This message's formatting is too large or too complex to show safely"


def frame_of(reader: Client, message: Message) -> Any:
    response = reader.get(message_url(message, "message-body"))
    assert response.status_code == 200
    policy = csp(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["sandbox"] == [
        "allow-same-origin",
        "allow-popups",
        "allow-popups-to-escape-sandbox",
    ]
    return parse_html(response.content).one("body")


def test_long_style_attributes_from_issue_13_render_quickly_and_safely(
    reader: Client, alice: User
) -> None:
    # 60 elements of style="color:aaaa…N" (8,150 a's): 480 KB that took 55 s.
    html = "".join(
        f'<p style="color:{"a" * 8150}{i}" onclick="alert(1)">Row {i}</p>' for i in range(60)
    )
    message = deliver_to(alice, html_mail(html + "<script>alert(2)</script>"))

    frame = frame_of(reader, message)

    assert TOO_COSTLY_NOTICE not in frame.text  # sanitised within its time limit, not given up
    rows = frame.find_all("p")
    assert [p.text for p in rows] == [f"Row {i}" for i in range(60)]
    assert rows[7].attrs == {"style": f"color:{'a' * 8150}7"}
    assert "alert" not in frame.raw_text and not frame.find_all("script")


def test_html_too_slow_to_sanitise_shows_the_plain_text_with_a_notice(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.HTML_TIME_LIMIT = 1
    # Deeply nested elements take nh3 time quadratic in their number (about 40 s here).
    slow = "<div>" * 100_000 + "<p>Rich version</p>"
    message = deliver_to(alice, html_mail(slow, text="Plain version\n  with <b>markup</b> as text"))

    started = time.monotonic()
    frame = frame_of(reader, message)
    elapsed = time.monotonic() - started

    assert TOO_COSTLY_NOTICE in frame.one("p", cls="sealbox-notice").text
    assert frame.one("div", cls="sealbox-text").raw_text == (
        "Plain version\n  with <b>markup</b> as text"
    )
    assert "Rich version" not in frame.raw_text
    assert elapsed < 10  # the limit, plus starting and stopping the work on a loaded machine


def test_html_too_large_to_sanitise_shows_its_words_without_markup(
    reader: Client, alice: User
) -> None:
    html = (
        "<html><head><style>p { color: red }</style></head><body>"
        "<p>Hello &amp; welcome <a href='javascript:alert(1)'>here</a></p>"
        "<script>alert(2)</script><!-- <p>hidden</p> -->"
        + "<p>filler</p>" * 200_000  # 2.6 MB, more than MAX_HTML
        + "</body></html>"
    )
    message = deliver_to(alice, html_mail(html))

    frame = frame_of(reader, message)

    assert TOO_COSTLY_NOTICE in frame.one("p", cls="sealbox-notice").text
    text = frame.one("div", cls="sealbox-text")
    assert text.raw_text.startswith("Hello & welcome here\n\nfiller\n\nfiller")
    assert not text.find_all("a") and not frame.find_all("script")
    assert "alert" not in frame.raw_text and "hidden" not in frame.raw_text
    assert "color: red" not in text.raw_text


# --- Read state ---------------------------------------------------------------------------


def test_opening_a_message_marks_it_read(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())
    assert message.read_at is None

    reader.get(message_url(message))

    message.refresh_from_db()
    assert message.read_at is not None
    first = message.read_at
    reader.get(message_url(message))
    message.refresh_from_db()
    assert message.read_at == first


def test_mark_unread_from_the_message_page(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())
    doc = page(reader.get(message_url(message)))
    [form] = [f for f in doc.find_all("form") if f.text == "Mark unread"]

    response = reader.post(form.attrs["action"])

    assert response.status_code == 302
    assert response["Location"] == reverse("inbox")
    message.refresh_from_db()
    assert message.read_at is None


# --- Delete -----------------------------------------------------------------------------------


def test_delete_from_the_message_page_removes_row_and_file(
    reader: Client,
    alice: User,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    message = deliver_to(alice, make_message(subject="Doomed"))
    blob = Path(settings.DATA_DIR) / message.blob
    assert blob.is_file()
    doc = page(reader.get(message_url(message)))
    form = doc.one("button", cls="danger")
    [action] = [f.attrs["action"] for f in doc.find_all("form") if form in f.find_all("button")]

    with django_capture_on_commit_callbacks(execute=True):
        response = reader.post(action)

    assert response.status_code == 302
    assert response["Location"] == reverse("inbox")
    assert not Message.objects.filter(id=message.id).exists()
    assert not blob.exists()
    inbox = page(reader.get(response["Location"]))
    assert flash(inbox) == ["Message deleted."]
    assert "Doomed" not in inbox.text


def test_delete_needs_a_post(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())

    assert reader.get(message_url(message, "message-delete")).status_code == 405
    assert Message.objects.filter(id=message.id).exists()


def test_delete_and_unread_need_the_csrf_token(alice: User) -> None:
    message = deliver_to(alice, make_message())
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(message_url(message))

    for name in ("message-delete", "message-unread"):
        response = client.post(message_url(message, name))
        assert response.status_code == 403
        assert page_heading(response) == "Please try again"

    message.refresh_from_db()
    assert message.read_at is not None


def test_delete_with_the_page_token_works_under_no_referrer(alice: User) -> None:
    message = deliver_to(alice, make_message())
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    doc = page(client.get(message_url(message)))
    token = doc.find_all("input", name="csrfmiddlewaretoken")[0].attrs["value"]

    response = client.post(
        message_url(message, "message-delete"),
        {"csrfmiddlewaretoken": token},
        HTTP_ORIGIN="null",
        HTTP_SEC_FETCH_SITE="same-origin",
    )

    assert response.status_code == 302
    assert not Message.objects.filter(id=message.id).exists()


# --- Ownership and sign-in ----------------------------------------------------------------------


# Every route that takes a message, in one place: another reader's message is not
# found, and nothing of it is shown or changed. ("part": the route names the PDF.)
@pytest.mark.parametrize(
    ("name", "method", "part"),
    [
        ("message", "get", False),
        ("message-body", "get", False),
        ("message-eml", "get", False),
        ("attachment", "get", True),
        ("attachment-preview", "get", True),
        ("attachments-zip", "get", False),
        ("reply", "get", False),
        ("message-delete", "post", False),
        ("message-unread", "post", False),
    ],
)
def test_another_users_message_answers_not_found(
    reader: Client, bob: User, name: str, method: str, part: bool
) -> None:
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"], mail["To"], mail["Subject"] = CAROL, bob.email, "For Bob"
    mail.set_content("bob's secret text")
    mail.add_alternative("<p>bob's secret html</p>", subtype="html")
    mail.add_attachment(pdf(), maintype="application", subtype="pdf", filename="secret.pdf")
    message = deliver_to(bob, mail.as_bytes())
    [attached] = opened.read(message).attachments
    url = message_url(message, name, *([attached.index] if part else []))

    response = getattr(reader, method)(url)

    assert response.status_code == 404
    assert b"bob's secret" not in response.content
    assert b"%PDF" not in response.content
    assert "There is nothing here." in response.content.decode()
    message.refresh_from_db()
    assert message.read_at is None
    if method == "get":
        # The same address is there for its owner.
        owner = Client()
        owner.force_login(bob)
        assert owner.get(url).status_code == 200


@pytest.mark.parametrize("name", ["message", "message-body", "message-eml"])
def test_an_unknown_message_answers_not_found(reader: Client, name: str) -> None:
    response = reader.get(reverse(name, args=[uuid.uuid4()]))

    assert response.status_code == 404
    assert "Content-Security-Policy" in response


def test_a_malformed_message_id_answers_not_found(reader: Client) -> None:
    assert reader.get("/m/12345/").status_code == 404
    assert reader.get("/m/../inbox/").status_code == 404


@pytest.mark.parametrize("name", ["message", "message-body", "message-eml"])
def test_anonymous_readers_are_sent_to_sign_in(client: Client, alice: User, name: str) -> None:
    message = deliver_to(alice, make_message())
    url = message_url(message, name)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('signin')}?next={url}"
    message.refresh_from_db()
    assert message.read_at is None


def test_the_page_title_is_the_subject(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message(subject="Quarterly figures"))

    doc = parse_html(reader.get(message_url(message)).content)

    assert doc.one("title").text.startswith("Quarterly figures")


# --- The first screen: a compact toolbar, the headers on one line ------------------------


def headline(doc: Any) -> str:
    return str(doc.one("details", cls="envelope").one("summary").text)


def test_the_headers_fold_to_one_line_from_the_sender_to_me(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message(to="Alice <ALICE@example.net>, Dave <dave@x.example>"))

    doc = page(reader.get(message_url(message)))

    line = headline(doc)
    assert line.startswith("From Carol Sender to me, Dave · ")
    assert line.endswith("11/20/2026 9:30 a.m.")
    # Names keep their own direction, whatever the page's.
    names = doc.one("details", cls="envelope").one("summary").find_all("bdi")
    assert [b.text for b in names] == ["Carol Sender", "me", "Dave"]
    assert all(b.attrs["dir"] == "auto" for b in names)
    # The full headers are under the line, for who opens it.
    details = doc.one("details", cls="envelope").one("dl", cls="headers").text
    assert "Carol Sender <carol@corp.example>" in details
    assert "dave@x.example" in details


def test_a_message_to_others_names_them_and_counts_the_rest(reader: Client, alice: User) -> None:
    to = "Dave <dave@x.example>, erin@x.example, Frank <f@x.example>, Gina <g@x.example>"
    message = deliver_to(alice, make_message(to=to))

    line = headline(page(reader.get(message_url(message))))

    assert line.startswith("From Carol Sender to Dave, erin@x.example and 2 more · ")


def test_the_toolbar_has_the_main_actions_and_the_rest_under_more(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, html_mail("<p>Rich</p>", text="Plain"))

    doc = page(reader.get(message_url(message)))

    toolbar = doc.one("nav", cls="actions")
    # Each icon is decoration; the control's name is its (on a phone visually hidden) text.
    assert all(svg.attrs["aria-hidden"] == "true" for svg in toolbar.find_all("svg"))
    named = [a.text for a in toolbar.find_all("a", cls="tool")]
    assert named == ["Inbox", "Reply", "Reply all"]
    assert [b.text for b in toolbar.find_all("button", cls="tool")] == ["Delete"]
    more = toolbar.one("details", cls="more")
    assert more.one("summary").text == "More"
    items = [i.text for i in more.find_all(cls="item")]
    assert items == ["Mark unread", "Download .eml", "Show plain text"]
    assert more.one("a", download="").attrs["href"] == message_url(message, "message-eml")


def test_a_sent_message_says_to_whom(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message(to="Dave <dave@x.example>"))
    Message.objects.filter(id=message.id).update(folder=Message.Folder.SENT)

    doc = page(reader.get(message_url(message)))

    assert headline(doc).startswith("To Dave · ")
    items = [i.text for i in doc.one("details", cls="more").find_all(cls="item")]
    assert items == ["Download .eml"]


def test_remote_images_from_the_portal_itself_are_never_loaded(
    reader: Client, alice: User, settings: Any
) -> None:
    """The frame shares the portal's origin: a request from it to the portal would carry
    the reader's session, so the portal's own hosts are left out even when remote images
    are shown; other hosts load."""
    settings.BASE_URL = "https://portal.example"
    sources = [
        "https://portal.example/m/x/",
        "http://testserver/inbox/",
        "https://TESTSERVER:8443/x.png",
        "//portal.example./x.png",
        "https://user@portal.example/x.png",
        "https://portal.example\\@elsewhere.example/x.png",
        "https://2130706433/x.png",
        "https://portal%2eexample/x.png",
        "https://news.example/ok.png",
    ]
    html = "".join(f'<img src="{s}" alt="{i}">' for i, s in enumerate(sources))
    message = deliver_to(alice, html_mail(html))

    frame = parse_html(reader.get(message_url(message, "message-body") + "?remote=1").content)

    kept = [img.attrs.get("src") for img in frame.find_all("img")]
    assert kept == [None] * 8 + ["https://news.example/ok.png"]
