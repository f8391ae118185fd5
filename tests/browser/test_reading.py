"""A new recipient's first visit, end to end in Chromium: link, password, read, download, delete."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from tests.browser.conftest import (
    Portal,
    RemoteServer,
    Watch,
    activation_link,
    continue_past_phrase,
    message_frame,
    outbox,
    run_worker,
)
from tests.browser.content import (
    ATTACHMENT_NAME,
    LOGO_SIZE,
    NEWSLETTER_SUBJECT,
    NEWSLETTER_TEXT,
    newsletter,
    pdf,
)
from tests.conftest import CAROL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAVE = "dave@example.com"
PASSWORD = "velvet-harbour-lantern-93"

IMAGE_LOADED = """img => img.complete && img.naturalWidth > 0"""


def test_new_recipient_reads_a_newsletter(
    page: Page,
    portal: Portal,
    remote: RemoteServer,
    watch: Watch,
    shoot: Callable[..., None],
) -> None:
    [stored] = deliver(CAROL, [DAVE], newsletter(DAVE, remote.url("/tracker.png")))
    run_worker()
    [notification] = outbox()
    assert notification["To"] == DAVE
    link = activation_link(notification)
    assert link.startswith(portal.link("/activate/"))

    # The link opens the password form and leaves the token out of the address bar.
    page.goto(link)
    expect(page).to_have_url(portal.link("/activate/set-password/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set your password")
    expect(page.locator("main")).to_contain_text(DAVE)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    shoot("set-password")
    page.get_by_role("button", name="Set password").click()

    # The personal phrase, shown once; Continue leads to the inbox.
    continue_past_phrase(page, User.objects.get(email=DAVE), portal.link("/inbox/"))
    # The inbox lists the newsletter with its sender.
    expect(page).to_have_url(portal.link("/inbox/"))
    row = page.locator("ul.messages li").filter(has_text=NEWSLETTER_SUBJECT)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Carol Sender")
    shoot("inbox")
    row.get_by_role("link").click()

    # The message: the frame shows the HTML with its inline image, and nothing remote.
    expect(page).to_have_url(portal.link(f"/m/{stored.id}/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(NEWSLETTER_SUBJECT)
    expect(page.locator("dl.headers")).to_contain_text("Carol Sender")
    body = page.frame_locator("iframe.message-frame")
    expect(body.get_by_text(NEWSLETTER_TEXT)).to_be_visible()
    expect(body.get_by_role("cell", name="€ 4.2 m")).to_be_visible()
    frame = message_frame(page)
    logo = frame.locator("img[alt=Logo]")
    frame.wait_for_function(IMAGE_LOADED, arg=logo.element_handle())
    assert logo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == list(LOGO_SIZE)
    # The <style> block's rules still apply once the HTML is sanitised.
    assert frame.locator("td.figure, td:has-text('€ 4.2 m')").first.evaluate(
        "td => getComputedStyle(td).fontWeight"
    ) in ("700", "bold")
    assert frame.locator("img[alt=Tracker]").get_attribute("src") is None
    expect(page.get_by_role("note").filter(has_text="Remote images are blocked")).to_be_visible()
    shoot("message")
    assert remote.paths == []

    # Remote images, once the reader asks for them; sent without referrer or cookies.
    page.get_by_role("link", name="Show remote images").click()
    expect(page).to_have_url(re.compile(r"\?remote=1$"))
    frame = message_frame(page)
    tracker = frame.locator("img[alt=Tracker]")
    frame.wait_for_function(IMAGE_LOADED, arg=tracker.element_handle())
    assert remote.paths == ["/tracker.png"]
    sent = {k.lower(): v for k, v in remote.requests[0].headers.items()}
    assert "referer" not in sent
    assert "cookie" not in sent
    expect(page.get_by_text("Remote images are blocked")).to_have_count(0)
    shoot("message-remote", dark=False)

    # Links open in a new tab and tell the other site nothing.
    read_online = page.frame_locator("iframe.message-frame").get_by_role("link", name="Read online")
    expect(read_online).to_have_attribute("target", "_blank")
    rel = (read_online.get_attribute("rel") or "").split()
    assert {"noopener", "noreferrer"} <= set(rel)

    # The attachment downloads under its own (Unicode) name, byte for byte.
    attachments = page.locator("section.attachments")
    expect(attachments).to_contain_text(ATTACHMENT_NAME)
    with page.expect_download() as got:
        attachments.get_by_role("link", name=ATTACHMENT_NAME, exact=True).click()
    download = got.value
    assert download.suggested_filename == ATTACHMENT_NAME
    assert Path(download.path()).read_bytes() == pdf()

    # The .eml download (under "More") is the stored message, byte for byte.
    actions = page.get_by_role("navigation", name="Message actions")
    actions.locator("summary", has_text="More").click()
    with page.expect_download() as got:
        page.get_by_role("link", name="Download .eml").click()
    download = got.value
    assert download.suggested_filename.endswith(".eml")
    assert Path(download.path()).read_bytes() == blobs.read(Message.objects.get(id=stored.id).blob)

    # Delete, after saying yes to the question.
    watch.accept_dialogs = True
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(portal.link("/inbox/"))
    assert watch.dialogs == ["confirm: Delete this message for good? This cannot be undone."]
    expect(page.get_by_text("Message deleted.")).to_be_visible()
    expect(page.get_by_text("Your secure mailbox is empty.")).to_be_visible()
    assert not Message.objects.filter(id=stored.id).exists()
    shoot("inbox-empty")

    # Sign out: back at the sign-in page, and the inbox is closed.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(portal.link("/signin/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    shoot("signed-out", dark=False)
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/signin/\?next=/inbox/$"))

    assert watch.popups == []
    assert remote.paths == ["/tracker.png"]
