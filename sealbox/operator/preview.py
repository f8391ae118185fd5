"""`sealbox brand preview`: every kind of email and the main pages, as recipients will see them.

The operator runs it before going live to review the branding in every
language. It never touches the installation's own data: `run()` starts a
second `sealbox` process on a throw-away data directory and database, which
stores sample mail through the real delivery path, lets the real code queue
its emails and serves the real pages (`render()`), and writes them to the
output directory as .eml and .html files with an index.
"""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from sealbox.mailstore import expiry
from sealbox.web import brandfiles

SAMPLE_DOMAIN = "preview.example"
PASSWORD = "preview-only-password-1"  # noqa: S105 - a throw-away account in a throw-away database


MARKER = "brand-preview"
# Between run() and its child only: not a setting, so not named SEALBOX_*.
TOKEN_VARIABLE = "BRAND_PREVIEW_TOKEN_OF_SEALBOX"  # noqa: S105 - a variable's name


class PreviewError(Exception):
    pass


def run(out: Path) -> None:
    """Render the samples into `out` from a separate process with its own data."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sealbox-preview-") as tmp:
        # Only a process given this token, on this directory, may render (is_throw_away).
        token = secrets.token_hex(16)
        env = dict(os.environ)
        for name in ("ENCRYPTION_KEY_PASSWORD", "ENCRYPTION_KEY_PASSWORD_FILE"):
            env.pop(f"SEALBOX_{name}", None)
        env.update(
            SEALBOX_DATA_DIR=tmp,
            SEALBOX_DATABASE_URL=f"sqlite:///{tmp}/preview.sqlite3",
            SEALBOX_DATABASE_URL_FILE="",
            SEALBOX_RELAY_URL="",
            SEALBOX_RELAY_URL_FILE="",
            SEALBOX_STORAGE_ENCRYPTION="off",
            SEALBOX_SECRET_KEY="",
            SEALBOX_SECRET_KEY_FILE="",
            # This process has read the env file already; the child must not read it
            # again (it would bring back what was taken out above).
            SEALBOX_ENV_FILE="",
            **{TOKEN_VARIABLE: token},
        )
        env.update(sample_settings())
        command = [sys.executable, "-m", "sealbox.cli"]
        for args in (["migrate", "--verbosity", "0"], ["brand", "render", "--out", str(out)]):
            if args[0] == "brand":
                (Path(tmp) / MARKER).write_text(token)
            done = subprocess.run([*command, *args], env=env, capture_output=True, text=True)
            if done.returncode:
                raise PreviewError(done.stderr.strip() or f"`sealbox {args[0]}` failed")


def sample_settings() -> dict[str, str]:
    """Settings for the throw-away process where this installation would never send a kind of email.

    Without the organisation's own domains there is no relayed reply and no
    read receipt; with receipts or reminders off, none of those. The preview
    shows them all the same, so that they are reviewed before anyone turns them on.
    """
    sample: dict[str, str] = {}
    if not settings.INTERNAL_DOMAINS:
        sample["SEALBOX_INTERNAL_DOMAINS"] = "example.org"
    if settings.READ_RECEIPTS == "off":
        sample["SEALBOX_READ_RECEIPTS"] = "requested"
    if not settings.EXPIRY_REMINDER_DAYS:
        sample["SEALBOX_EXPIRY_REMINDER_DAYS"] = "3"
    if not settings.COMPOSE_PER_HOUR:
        sample["SEALBOX_COMPOSE_PER_HOUR"] = "20"
    if settings.QUOTA_FULL_REPLY != "permanent":
        sample["SEALBOX_QUOTA_FULL_REPLY"] = "permanent"
    return sample


# --- In the throw-away process ---------------------------------------------------


def is_throw_away() -> bool:
    """True only in the process run() started: its token, its directory, its own SQLite file.

    render() stores sample mail, queues emails and sends due notifications and
    reminders: on an installation's own data it would do that to real mailboxes.
    """
    token = os.environ.get(TOKEN_VARIABLE, "")
    marker = Path(settings.DATA_DIR) / MARKER
    database = Path(str(settings.DATABASES["default"].get("NAME", ""))).resolve()
    try:
        expected = marker.read_text()
    except OSError:
        return False
    return (
        bool(token)
        and secrets.compare_digest(token, expected)
        and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        and database.parent == Path(settings.DATA_DIR).resolve()
    )


def _sender() -> str:
    domain = settings.INTERNAL_DOMAINS[0] if settings.INTERNAL_DOMAINS else "example.org"
    return f"carol.sender@{domain}"


def _sample_message(to: str, subject: str, *, receipt: bool = False) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"Carol Sender <{_sender()}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = f"<preview.{abs(hash((to, subject)))}@{SAMPLE_DOMAIN}>"
    if receipt:
        msg["Disposition-Notification-To"] = _sender()
    msg.set_content("Hello,\n\nplease find the signed contract attached.\n\nCarol\n")
    msg.add_alternative(
        "<p>Hello,</p><p>please find the <b>signed contract</b> attached.</p><p>Carol</p>",
        subtype="html",
    )
    msg.add_attachment(
        b"%PDF-1.4\n% sample\n", maintype="application", subtype="pdf", filename="contract.pdf"
    )
    return msg.as_bytes()


def _queued(kind: str, to: str, since: Any) -> bytes | None:
    """The last email of `kind` to `to` queued after `since`, if any."""
    from sealbox.outbound.models import OutgoingEmail

    items = OutgoingEmail.objects.filter(created__gt=since, kind=kind).order_by("created")
    found = [item for item in items if item.recipients == [to]]
    return bytes(found[-1].data) if found else None


def _emails(language: str) -> dict[str, bytes]:
    """Each kind of email to a recipient whose account speaks `language`.

    The emails to the organisation's own senders (the delivery report, a
    relayed reply, a read receipt) are in the operator's language
    (SEALBOX_LANGUAGE): here as they would be with `language` there.
    """
    from sealbox.accounts import phrase
    from sealbox.accounts.models import User
    from sealbox.housekeeping import reminders
    from sealbox.intake.delivery import deliver
    from sealbox.mailstore import quota
    from sealbox.outbound import accountmail, notify, receipts
    from sealbox.outbound.models import NotificationState
    from sealbox.portal import sending

    found: dict[str, bytes] = {}
    sender = _sender()

    def collect(name: str, to: str, since: Any, kind: str | None = None) -> None:
        data = _queued(kind or name, to, since)
        if data is not None:
            found[name] = data

    def notify_now(user: User) -> None:
        NotificationState.objects.filter(user=user).update(due_at=timezone.now())
        notify.send_due()

    newcomer, _ = User.objects.recipient(f"new.{language}@{SAMPLE_DOMAIN}")
    newcomer.language = language
    newcomer.save(update_fields=["language"])
    reader = User.objects.create_user(
        f"reader.{language}@{SAMPLE_DOMAIN}", PASSWORD, display_name="Robin Reader"
    )
    reader.language = language
    reader.phrase = phrase.generate(language)
    if not reader.effective_retention_days:
        # Kept for ever here: the reminder is previewed with a period the reader might choose.
        reader.retention_days = settings.RETENTION_CHOICES[-1]
    reader.save(update_fields=["language", "phrase", "retention_days"])

    mark = timezone.now()
    deliver(sender, [newcomer.email], _sample_message(newcomer.email, "Your contract"))
    notify_now(newcomer)
    collect("notification-first", newcomer.email, mark, "notification")

    mark = timezone.now()
    for subject in ("Your contract", "Meeting notes", "Invoice 2026-114"):
        deliver(sender, [reader.email], _sample_message(reader.email, subject))
    notify_now(reader)
    collect("notification-several", reader.email, mark, "notification")

    mark = timezone.now()
    [stored] = deliver(sender, [reader.email], _sample_message(reader.email, "Signed copy"))
    notify_now(reader)
    collect("notification", reader.email, mark)

    mark = timezone.now()
    accountmail.send_link(reader.email)
    collect("reset", reader.email, mark)

    mark = timezone.now()
    with transaction.atomic():
        accountmail.send_activation(newcomer)
    collect("activation", newcomer.email, mark)

    mark = timezone.now()
    notify.tell_full(reader)
    collect("quota-full", reader.email, mark)

    mark = timezone.now()
    expires = expiry.expires_at(stored.received_at, reader.effective_retention_days)
    window = timedelta(days=settings.EXPIRY_REMINDER_DAYS)
    reminders.send_due(now=(expires or timezone.now()) - window + timedelta(hours=1))
    collect("expiry-reminder", reader.email, mark)

    with override_settings(LANGUAGE_CODE=language):
        # The sender's report when a message reached some recipients but not one whose
        # mailbox is full (intake, SEALBOX_QUOTA_FULL_REPLY=permanent).
        full = User.objects.create_user(f"full.{language}@{SAMPLE_DOMAIN}", quota_mb=1)
        User.objects.filter(pk=full.pk).update(usage_bytes=quota.MIB)
        mark = timezone.now()
        deliver(sender, [reader.email, full.email], _sample_message(full.email, "Report"))
        collect("mailbox-full-report", sender, mark, "bounce")

        # The reader's reply through the portal to the organisation's sender (by the relay).
        mark = timezone.now()
        sending.send(
            reader,
            to=[sender],
            cc=[],
            subject="Re: Signed copy",
            body="Dear Carol,\n\nthank you, I have received the signed copy.\n\nRobin\n",
            uploads=[],
            original=stored,
        )
        collect("reply", sender, mark)

        [asked] = deliver(
            sender, [reader.email], _sample_message(reader.email, "Please confirm", receipt=True)
        )
        target = receipts.receipt_target(asked)
        if target:
            found["read-receipt"] = receipts.build(asked, target).as_bytes()
    return found


def _html_part(data: bytes) -> tuple[str, dict[str, bytes]]:
    """The email's HTML (or its text, escaped) and its inline images by Content-ID."""
    msg = message_from_bytes(data, policy=policy.default)
    body = msg.get_body(preferencelist=("html", "plain"))
    images: dict[str, bytes] = {}
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            payload = part.get_payload(decode=True)
            images[cid.strip("<>")] = payload if isinstance(payload, bytes) else b""
    if body is None:
        return "", images
    content = body.get_content()
    if body.get_content_subtype() == "plain":
        content = f"<pre>{html.escape(content)}</pre>"
    return content, images


def _write_email(folder: Path, name: str, data: bytes) -> None:
    (folder / f"{name}.eml").write_bytes(data)
    content, images = _html_part(data)
    for i, (cid, payload) in enumerate(sorted(images.items())):
        suffix = "png" if payload.startswith(b"\x89PNG") else "bin"
        file = f"{name}-image{i}.{suffix}"
        (folder / file).write_bytes(payload)
        content = content.replace(f"cid:{cid}", file)
    (folder / f"{name}.html").write_text(content, encoding="utf-8")


def _pages(language: str, static_prefix: str) -> dict[str, str]:
    """The main pages, signed out and in, in `language`."""
    from sealbox.accounts.models import LinkToken, User
    from sealbox.mailstore.models import Message

    reader = User.objects.get(email=f"reader.{language}@{SAMPLE_DOMAIN}")
    newcomer = User.objects.get(email=f"new.{language}@{SAMPLE_DOMAIN}")
    host = settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else "localhost"
    client = Client(HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE=language)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    pages: dict[str, str] = {}

    def get(name: str, path: str) -> None:
        response = client.get(path, follow=True, secure=settings.HTTPS)
        pages[name] = response.content.decode(response.charset or "utf-8")

    get("signin", reverse("signin"))
    get("link-new", reverse("link-new"))
    token = LinkToken.issue(reader, LinkToken.Purpose.RESET)
    get("reset", reverse("reset", args=[token]))
    token = LinkToken.issue(newcomer, LinkToken.Purpose.ACTIVATE)
    get("activate", reverse("activate", args=[token]))
    # Choosing the password activates the account: the next page shows its new phrase.
    response = client.post(
        reverse("activate-set-password"),
        {"new_password1": PASSWORD, "new_password2": PASSWORD},
        follow=True,
        secure=settings.HTTPS,
    )
    if response.resolver_match and response.resolver_match.url_name == "phrase-new":
        pages["phrase"] = response.content.decode(response.charset or "utf-8")
    client.force_login(reader)
    get("inbox", reverse("inbox"))
    message = Message.objects.filter(owner=reader, folder=Message.Folder.INBOX).first()
    if message is not None:
        get("message", reverse("message", args=[message.id]))
        get("message-body", reverse("message-body", args=[message.id]))
    get("settings", reverse("settings"))

    body_path = reverse("message-body", args=[message.id]) if message is not None else None
    for name, content in pages.items():
        content = re.sub(r'(src|href)="/static/', rf'\1="{static_prefix}', content)
        content = re.sub(
            r'(src|href)="/brand/logo[^"]*"', rf'\1="{static_prefix}brand-logo"', content
        )
        content = re.sub(r'href="/brand\.css[^"]*"', rf'href="{static_prefix}brand.css"', content)
        if body_path:
            content = content.replace(f'src="{body_path}"', 'src="message-body.html"')
        pages[name] = content
    return pages


def _copy_static(out: Path) -> None:
    static = out / "static"
    for name in ("portal/portal.css", "portal/portal.js", "portal/reader.js", "portal/icon.svg"):
        found = finders.find(name)
        if found:
            target = static / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(str(found), target)
    # The brand's files as the portal serves them (brandfiles.py): a logo it would
    # refuse is left out here too.
    static.mkdir(parents=True, exist_ok=True)
    logo = brandfiles.logo()
    if logo is not None:
        (static / "brand-logo").write_bytes(logo.data)
    (static / "brand.css").write_text(brandfiles.stylesheet(), encoding="utf-8")


def render(out: Path) -> list[Path]:
    """Write the samples for every language into `out`; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    _copy_static(out)
    index = [
        "<!DOCTYPE html><meta charset=utf-8><title>Sealbox brand preview</title><h1>Preview</h1>"
    ]
    written: list[Path] = []
    for code, name in settings.LANGUAGES:
        folder = out / code
        (folder / "emails").mkdir(parents=True, exist_ok=True)
        (folder / "pages").mkdir(parents=True, exist_ok=True)
        emails = _emails(code)
        for kind, data in emails.items():
            _write_email(folder / "emails", kind, data)
            written.append(folder / "emails" / f"{kind}.eml")
        pages = _pages(code, "../../static/")
        for page, content in pages.items():
            path = folder / "pages" / f"{page}.html"
            path.write_text(content, encoding="utf-8")
            written.append(path)
        index.append(f"<h2 lang={code}>{html.escape(name)}</h2><ul>")
        index += [
            f'<li><a href="{code}/emails/{k}.html">{k}</a> (<a href="{code}/emails/{k}.eml">.eml</a>)'
            for k in emails
        ]
        index += [
            f'<li><a href="{code}/pages/{p}.html">{p}</a>' for p in pages if p != "message-body"
        ]
        index.append("</ul>")
    (out / "index.html").write_text("\n".join(index), encoding="utf-8")
    return written
