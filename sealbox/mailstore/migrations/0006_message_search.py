import unicodedata

from django.db import migrations, models

import sealbox.mailstore.sealed

# The search column as search.index_text wrote it when this migration was made:
# these fields, each NFKC-normalised and case-folded, one a line. Copied, not
# imported, so that later changes to search.FIELDS do not change what this
# migration does (`sealbox mailbox index` brings old rows up to date).
FIELDS = ("from_name", "from_address", "envelope_from", "to_display", "subject", "attachment_names")


def normalise(text):
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def index_text(row):
    return "\n".join(normalise(str(row.get(name) or "")) for name in FIELDS)


def fill_search_text(apps, schema_editor):
    """Plain rows get their search column from what they already hold.

    Sealed rows keep it empty (they are searched once opened in memory), and
    attachment names, which the rows did not keep, come from `sealbox mailbox
    index` (docs/encryption.md): until then such mail is found by everything else.
    """
    Message = apps.get_model("mailstore", "Message")
    plain = Message.objects.filter(sealed_summary__isnull=True).order_by("id")
    fields = ("from_name", "from_address", "envelope_from", "to_display", "subject")
    after = None
    while True:
        batch = plain if after is None else plain.filter(id__gt=after)
        rows = list(batch.values("id", *fields)[:1000])
        if not rows:
            return
        for row in rows:
            Message.objects.filter(id=row["id"]).update(search_text=index_text(row))
        after = rows[-1]["id"]


class Migration(migrations.Migration):

    dependencies = [
        ('mailstore', '0005_receipt_declined_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='attachment_names',
            field=sealbox.mailstore.sealed.SealedTextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='message',
            name='search_text',
            field=models.TextField(blank=True, default='', editable=False),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
    ]
