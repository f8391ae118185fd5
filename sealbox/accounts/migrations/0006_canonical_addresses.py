"""Every account's address in the one canonical form (sealbox.addresses.normalize).

Before, intake kept an address with its domain as written (``x@ｃorp.example``,
``x@corp.example。``) while other paths folded it otherwise. Each account's
address is recomputed here:

- it changes to its canonical form when no other account has that form;
- where several accounts share one canonical form, they are one recipient and
  are merged so that no mail is lost: the account that keeps the address is the
  first one activated (its password, second factor and settings stay), else
  the oldest; the others' messages, storage used, activity log and sent-message
  count move to it, a disabled account keeps the merged one disabled, and the
  others are deleted with their links, passkeys and sessions;
- an address that is no longer valid (a domain IDNA refuses, an invisible
  character, a stand-in like the Kelvin sign) is left as it is and reported:
  nothing can reach it any more, so the operator decides (`sealbox check
  --deploy` keeps listing it, sealbox.W020).

Each change is logged as a warning of the logger sealbox.migrations. Sign-in
pauses (accounts_throttle) hold only hashes of addresses and cannot be
recomputed: they run out by themselves within SEALBOX_SIGNIN_LOCK_MINUTES.
"""

import logging
from collections import defaultdict

from django.db import migrations
from django.db.models import F

from sealbox import addresses

log = logging.getLogger("sealbox.migrations")


def _first(user):
    """Sort key: the account that keeps the address comes first."""
    activated = user.activated_at is not None
    return (not activated, user.activated_at or user.created, user.created, user.pk)


def canonical_addresses(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Message = apps.get_model("mailstore", "Message")
    Activity = apps.get_model("accounts", "Activity")
    SendRecord = apps.get_model("outbound", "SendRecord")

    groups = defaultdict(list)
    for user in User.objects.order_by("pk"):
        try:
            groups[addresses.normalize(user.email)].append(user)
        except addresses.InvalidAddress as error:
            log.warning("account %s left as it is: %s", user.email, error)

    for canonical, users in groups.items():
        users.sort(key=_first)
        keeper, others = users[0], users[1:]
        for other in others:
            moved = Message.objects.filter(owner=other).update(owner=keeper)
            Activity.objects.filter(user=other).update(user=keeper)
            SendRecord.objects.filter(user=other).update(user=keeper)
            User.objects.filter(pk=keeper.pk).update(
                usage_bytes=F("usage_bytes") + other.usage_bytes
            )
            if not other.is_active:
                User.objects.filter(pk=keeper.pk).update(is_active=False)
            other.delete()
            log.warning(
                "accounts %s and %s are one address, %s: merged into account %s "
                "(%d message(s) moved)",
                keeper.email,
                other.email,
                canonical,
                keeper.pk,
                moved,
            )
        if keeper.email != canonical:
            User.objects.filter(pk=keeper.pk).update(email=canonical)
            if not others:
                log.warning("account %s is now %s", keeper.email, canonical)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_expiry_reminded_at"),
        # After from_portal is filled in from the addresses as they were.
        ("mailstore", "0004_message_from_portal"),
        ("outbound", "0001_initial"),
        ("operator", "0001_initial"),
    ]

    operations = [migrations.RunPython(canonical_addresses, migrations.RunPython.noop)]
