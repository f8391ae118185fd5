"""Migration 0006: accounts kept under an old spelling of their address get the canonical one."""

from __future__ import annotations

import importlib
import logging
from io import StringIO
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.test import Client

from sealbox.accounts.models import Activity, User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from tests.accounts.helpers import NEW_PASSWORD, PASSWORD, is_signed_in
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = pytest.mark.django_db(transaction=True)

AFTER = "0006_canonical_addresses"
ANN = "ann@partner.example"


def migrate_0006() -> None:
    """Run 0006's data step on today's schema: rewinding the schema would leave later
    columns out from under the models that set the data up."""
    module = importlib.import_module(f"sealbox.accounts.migrations.{AFTER}")
    with connection.schema_editor() as editor:
        module.canonical_addresses(django_apps, editor)


def kept_as(email: str, old_spelling: str, messages: int) -> User:
    """An account with mail, then its address changed to what the old rules kept."""
    user, _ = User.objects.recipient(email)
    for _ in range(messages):
        deliver(CAROL, [email], make_message(to=email))
    User.objects.filter(pk=user.pk).update(email=old_spelling)
    user.refresh_from_db()
    return user


def test_it_merges_old_spellings_into_the_activated_account_and_loses_no_mail(
    caplog: Any,
) -> None:
    # Oldest, but never activated: it does not keep the address.
    first = kept_as("ann@partner2.example", "ann@p\uff41rtner.example", 2)
    ann = User.objects.create_user(ANN, PASSWORD)
    deliver(CAROL, [ANN], make_message(to=ANN))
    Activity.objects.create(user=first, kind=Activity.Kind.SIGNIN_FAILED)
    third = kept_as("ann@partner3.example", "ann@partner.example\u3002", 1)
    usage = sum(User.objects.filter(email__startswith="ann@").values_list("usage_bytes", flat=True))
    single = kept_as("bo@example.org", "bo@EXAMPLE\uff0eorg", 1)
    kept_as("zw@example.net", "z\u200bw@example.net", 1)

    with caplog.at_level(logging.WARNING, logger="sealbox.migrations"):
        migrate_0006()

    assert sorted(User.objects.values_list("email", flat=True)) == sorted(
        [ANN, "bo@example.org", "z\u200bw@example.net"]
    )
    ann.refresh_from_db()
    assert Message.objects.filter(owner=ann).count() == 4
    assert Activity.objects.filter(user=ann, kind=Activity.Kind.SIGNIN_FAILED).count() == 1
    assert ann.usage_bytes == usage > 1500
    assert not User.objects.filter(pk__in=[first.pk, third.pk]).exists()
    assert Message.objects.filter(owner=single).count() == 1
    assert Message.objects.count() == 6
    # Ann signs in with her password, in any spelling that reached her before.
    for spelling in (ANN, "ann@p\uff41rtner.example", "ann@partner.example\u3002"):
        client = Client()
        r = client.post("/signin/", {"username": spelling, "password": PASSWORD})
        assert r.status_code == 302 and is_signed_in(client), spelling
    log = caplog.text
    assert "merged into account" in log and "ann@p\uff41rtner.example" in log
    assert "bo@EXAMPLE\uff0eorg is now bo@example.org" in log
    assert "z\u200bw@example.net left as it is" in log
    # The operator is told about the account nothing reaches any more.
    [warning] = checks.run_checks(tags=["database"], databases=["default"])
    assert warning.id == "sealbox.W020" and "z\\u200bw@example.net" in warning.msg
    # ... and can look at it and remove it from the command line.
    out = StringIO()
    call_command("mailbox", "list", "z\u200bw@example.net", stdout=out)
    assert out.getvalue().startswith("z\u200bw@example.net (not activated yet): 1 message(s)")
    call_command("user", "delete", "z\u200bw@example.net", "--yes", stdout=StringIO())
    assert [w.id for w in checks.run_checks(tags=["database"], databases=["default"])] == []


def test_of_two_activated_accounts_the_first_activated_keeps_its_password() -> None:
    later = User.objects.create_user("dee@partner.example", PASSWORD)
    first = User.objects.create_user("dee@partner9.example", NEW_PASSWORD)
    User.objects.filter(pk=first.pk).update(
        email="dee@PARTNER\uff0eexample", activated_at=later.activated_at.replace(year=2020)
    )

    migrate_0006()

    [kept] = User.objects.all()
    assert kept.pk == first.pk and kept.email == "dee@partner.example"
    assert kept.check_password(NEW_PASSWORD)


def test_portal_mail_is_marked_from_the_old_addresses_before_they_are_rewritten() -> None:
    # mailstore 0004 recognises portal mail by its sender's address as stored:
    # run after 0006, it missed every account 0006 had renamed or merged.
    from django.db.migrations.loader import MigrationLoader

    plan = MigrationLoader(None).graph.forwards_plan(("accounts", AFTER))

    assert ("mailstore", "0004_message_from_portal") in plan
