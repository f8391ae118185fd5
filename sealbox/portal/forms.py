from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sealbox.portal.sending import SendError, has_line_break, parse_recipients


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class MessageForm(forms.Form):
    to = forms.CharField(label=gettext_lazy("To"), max_length=4000)
    cc = forms.CharField(label=gettext_lazy("Cc"), max_length=4000, required=False)
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=500, required=False)
    body = forms.CharField(
        label=gettext_lazy("Message"),
        widget=forms.Textarea(attrs={"rows": 14}),
        required=False,
        max_length=2_000_000,
        strip=False,
    )
    attachments = MultipleFileField(label=gettext_lazy("Attachments"), required=False)

    def _recipients(self, name: str) -> list[str]:
        try:
            return parse_recipients(self.cleaned_data.get(name, ""))
        except SendError as e:
            raise forms.ValidationError(str(e)) from None

    def clean_to(self) -> list[str]:
        found = self._recipients("to")
        if not found:
            raise forms.ValidationError(_("Add at least one recipient."))
        return found

    def clean_cc(self) -> list[str]:
        return self._recipients("cc")

    def clean_subject(self) -> str:
        subject = self.cleaned_data.get("subject", "")
        if has_line_break(subject):
            raise forms.ValidationError(_("Line breaks are not allowed in the subject."))
        return subject

    def clean_attachments(self) -> list[UploadedFile]:
        files = self.cleaned_data.get("attachments") or []
        limit = settings.MAX_UPLOAD_MB * 1024 * 1024
        if sum(f.size or 0 for f in files) > limit:
            raise forms.ValidationError(
                _("Attachments may add up to %(mb)d MB at most.") % {"mb": settings.MAX_UPLOAD_MB}
            )
        return files
