"""What operators manage at /admin/: accounts, message metadata, the outgoing queue, the audit log.

On purpose nothing here shows what a message says: no subject, sender name,
body or attachment, on any page (lists, change pages, deletion pages,
search). Every change goes through sealbox/operator/actions.py, which writes
the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import Group
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sealbox import addresses
from sealbox.accounts.models import User
from sealbox.mailstore import mailbox, quota
from sealbox.mailstore.models import Message
from sealbox.operator import actions, overview
from sealbox.operator.models import AuditEntry
from sealbox.outbound import queue
from sealbox.outbound.models import OutgoingEmail

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices

admin.site.unregister(Group)
# Deleting goes through each admin's own action (files, usage, the audit log).
admin.site.disable_action("delete_selected")


class OperatorAdmin(admin.ModelAdmin):
    """What every admin here shares: filters only from a list, and nothing done unaudited.

    Django's admin takes a filter on any of a model's own fields in the URL
    (?subject__startswith=…, ?totp_secret__startswith=…), which would let an
    operator probe content or secrets one guess at a time: only the filters in
    `allowed_lookups` are taken.

    Django's admin writes its history of each addition, change and deletion
    through the log_* methods. Each also reaches the audit log here, unless
    this admin's own save or delete writes a detailed entry (named in
    `audited`), so that nothing done through the admin escapes the audit log.
    """

    allowed_lookups: frozenset[str] = frozenset()
    audited: frozenset[str] = frozenset()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup in self.allowed_lookups

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """A whole address is searched for in canonical form, as accounts keep it.

        Alice@EXAMPLE.net in fullwidth capitals finds alice@example.net; a part of an
        address is searched for as typed.
        """
        try:
            search_term = addresses.normalize(search_term)
        except addresses.InvalidAddress:
            pass
        return super().get_search_results(request, queryset, search_term)

    def _audit(self, request: HttpRequest, what: str, objs: Iterable[Any]) -> None:
        if what in self.audited:
            return
        actor = actions.Actor.of(request)
        for obj in objs:
            actions.audit(actor, f"{what} {self.opts.verbose_name}"[:40], str(obj), "admin site")

    def action_page(
        self, request: HttpRequest, template: str, title: Any, **context: Any
    ) -> TemplateResponse:
        """The page an action shows before it acts (a form, a confirmation)."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        }
        return TemplateResponse(request, f"admin/operator/{template}", context)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, "add", [obj])
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, "change", [obj])
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        self._audit(request, "delete", queryset)
        return super().log_deletions(request, queryset)


# --- Accounts ---------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s, s) for s in overview.STATUSES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        value = self.value()
        return overview.with_status(queryset, value) if value in overview.STATUSES else queryset


class SignedInFilter(admin.SimpleListFilter):
    title = _("sign-in")
    parameter_name = "signed_in"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("never", str(_("never signed in")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        return overview.never_signed_in(queryset) if self.value() == "never" else queryset


class UsageFilter(admin.SimpleListFilter):
    title = _("storage")
    parameter_name = "usage"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("warn", f"over {settings.QUOTA_WARN_PERCENT} %"),
            ("full", str(_("full"))),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() == "warn":
            return overview.over_share(queryset)
        if self.value() == "full":
            return overview.over_share(queryset, 100)
        return queryset


class TwoFactorFilter(admin.SimpleListFilter):
    title = _("two-factor sign-in")
    parameter_name = "two_factor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("on", str(_("on"))), ("off", str(_("off")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() in ("on", "off"):
            return queryset.filter(two_factor=self.value() == "on")  # type: ignore[misc]
        return queryset


class QuotaForm(forms.Form):
    quota = forms.CharField(
        label=_("Quota in MiB"),
        required=False,
        help_text=_("Empty: the default for every mailbox. 0: no limit."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autofocus": True}),
    )

    def clean_quota(self) -> int | None:
        value = self.cleaned_data["quota"].strip()
        if not value:
            return None
        try:
            return quota.parse_mb(value)
        except ValueError:
            raise forms.ValidationError(_("Enter a whole number of MiB, 0 or more.")) from None


# The throttle keys locked now, while a list of accounts is built (else None).
_locked_keys: ContextVar[set[str] | None] = ContextVar("locked_keys", default=None)

# What an operator may change on an account's page; the rest is shown read-only.
ACCOUNT_EDITABLE = frozenset(
    {"display_name", "is_active", "quota_mb", "retention_days", "expiry_reminders", "allow_compose"}
)


@admin.register(User)
class AccountAdmin(OperatorAdmin):
    allowed_lookups = frozenset({"status", "signed_in", "usage", "two_factor", "is_staff__exact"})
    audited = frozenset({"change", "delete"})
    list_display = (
        "email",
        "status",
        "created",
        "last_sign_in",
        "message_count",
        "usage",
        "two_factor_on",
    )
    list_filter = (StatusFilter, SignedInFilter, UsageFilter, TwoFactorFilter, "is_staff")
    search_fields = ("email",)
    ordering = ("email",)
    list_per_page = 50
    show_full_result_count = False
    actions = (
        "set_quota",
        "disable",
        "enable",
        "reset_two_factor",
        "resend_activation",
        "delete_with_mail",
    )
    fields = (
        "email",
        "status",
        "display_name",
        "is_active",
        "quota_mb",
        "usage",
        "retention_days",
        "expiry_reminders",
        "allow_compose",
        "created",
        "activated_at",
        "last_sign_in",
        "message_count",
        "two_factor_on",
        "phrase_set",
        "is_staff",
    )
    readonly_fields = tuple(f for f in fields if f not in ACCOUNT_EDITABLE)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return overview.accounts()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts come from mail, operators from `sealbox createsuperuser`

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.pk != request.user.pk

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.pk == request.user.pk:
            return (*fields, "is_active")  # nobody disables themself by a slip
        return fields

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """What the deletion page lists: the account and how many messages go with it.

        Not Django's list of every row that goes too: that would name each
        message (and open each sealed one) only to say that it goes.
        """
        users = list(objs)
        counts = dict(
            Message.objects.filter(owner__in=users)
            .values_list("owner")
            .annotate(n=Count("id"))
            .values_list("owner", "n")
        )
        listed: list[Any] = []
        for user in users:
            n = counts.get(user.pk, 0)
            listed += [user.email, [ngettext("%d message", "%d messages", n) % n]]
        model_count = {
            User._meta.verbose_name_plural: len(users),
            _("messages"): sum(counts.values()),
        }
        return listed, model_count, set(), []

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # The sign-in pauses in force, read once for the page's rows (status()).
        token = _locked_keys.set(overview.locked_keys())
        try:
            return super().changelist_view(request, extra_context)
        finally:
            _locked_keys.reset(token)

    @admin.display(description=_("status"))
    def status(self, user: User) -> str:
        return overview.status(user, _locked_keys.get())

    @admin.display(description=_("last sign-in"), ordering="last_login")
    def last_sign_in(self, user: User) -> Any:
        return user.last_login or _("never")  # the change page ignores empty_value

    @admin.display(description=_("messages"), ordering="message_count")
    def message_count(self, user: User) -> int:
        return int(getattr(user, "message_count", 0))

    @admin.display(description=_("usage / quota"), ordering="usage_bytes")
    def usage(self, user: User) -> str:
        limit = user.quota_bytes
        if limit is None:
            return f"{quota.size_text(user.usage_bytes)} (no limit)"
        share = quota.usage_share(user)
        own = "" if user.quota_mb is None else ", own quota"
        return f"{quota.size_text(user.usage_bytes)} of {quota.size_text(limit)} ({share} %{own})"

    @admin.display(description=_("two-factor"), boolean=True)
    def two_factor_on(self, user: User) -> bool:
        return bool(getattr(user, "two_factor", user.has_two_factor))

    @admin.display(description=_("personal phrase set"), boolean=True)
    def phrase_set(self, user: User) -> bool:
        """Whether the account has a personal phrase; the phrase itself is never shown here."""
        return bool(user.phrase)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        before = User.objects.get(pk=obj.pk)
        changed = []
        for name in form.changed_data:
            changed.append(f"{name}: {getattr(before, name)!r} -> {getattr(obj, name)!r}")
        # Each change through its action, where it has one (sessions end, quota flags).
        actor = actions.Actor.of(request)
        if "quota_mb" in form.changed_data:
            actions.set_quota(actor, before, obj.quota_mb)
        if "is_active" in form.changed_data:
            (actions.enable if obj.is_active else actions.disable)(actor, before)
        rest = [n for n in form.changed_data if n not in ("quota_mb", "is_active")]
        if rest:
            User.objects.filter(pk=obj.pk).update(**{n: getattr(obj, n) for n in rest})
            detail = "; ".join(c for c in changed if c.split(":")[0] in rest)
            actions.audit(actor, "change account", obj.email, detail)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        actions.delete_account(actions.Actor.of(request), obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in list(queryset):
            actions.delete_account(actions.Actor.of(request), user)

    def _done(self, request: HttpRequest, text: str) -> None:
        self.message_user(request, text, messages.SUCCESS)

    @admin.action(description=_("Set quota of selected accounts"))
    def set_quota(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        form = QuotaForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            mb = form.cleaned_data["quota"]
            actor = actions.Actor.of(request)
            users = list(queryset)
            for user in users:
                actions.set_quota(actor, user, mb)
            self._done(
                request,
                ngettext(
                    "Quota set for %(n)d account.", "Quota set for %(n)d accounts.", len(users)
                )
                % {"n": len(users)},
            )
            return None
        return self.action_page(
            request, "set_quota.html", _("Set quota"), form=form, accounts=queryset
        )

    @admin.action(description=_("Disable selected accounts (they cannot sign in)"))
    def disable(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = actions.Actor.of(request)
        if any(u.pk == request.user.pk for u in queryset):
            self.message_user(request, _("You cannot disable your own account."), messages.ERROR)
            return
        n = sum(actions.disable(actor, user) for user in queryset)
        self._done(
            request,
            ngettext(
                "%(n)d account disabled; its sessions ended.",
                "%(n)d accounts disabled; their sessions ended.",
                n,
            )
            % {"n": n},
        )

    @admin.action(description=_("Enable selected accounts"))
    def enable(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = actions.Actor.of(request)
        n = sum(actions.enable(actor, user) for user in queryset)
        self._done(
            request, ngettext("%(n)d account enabled.", "%(n)d accounts enabled.", n) % {"n": n}
        )

    @admin.action(description=_("Reset two-factor sign-in of selected accounts"))
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = actions.Actor.of(request)
        users = list(queryset)
        if any(u.pk == request.user.pk for u in users):
            # It would end this session, and the admin needs two-factor sign-in.
            self.message_user(
                request,
                _("Your own two-factor sign-in is managed in your settings."),
                messages.ERROR,
            )
            return
        for user in users:
            actions.reset_two_factor(actor, user)
        self._done(
            request,
            ngettext(
                "Two-factor sign-in reset for %(n)d account; its sessions ended.",
                "Two-factor sign-in reset for %(n)d accounts; their sessions ended.",
                len(users),
            )
            % {"n": len(users)},
        )

    @admin.action(description=_("Resend the activation link to selected accounts"))
    def resend_activation(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = actions.Actor.of(request)
        sent = 0
        for user in queryset:
            try:
                actions.resend_activation(actor, user)
                sent += 1
            except actions.NotPossible as e:
                self.message_user(request, str(e), messages.WARNING)
        if sent:
            self._done(
                request,
                ngettext(
                    "A new activation link was sent to %(n)d account.",
                    "A new activation link was sent to %(n)d accounts.",
                    sent,
                )
                % {"n": sent},
            )

    @admin.action(description=_("Delete selected accounts with all their mail"))
    def delete_with_mail(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        users = list(queryset)
        if any(u.pk == request.user.pk for u in users):
            self.message_user(request, _("You cannot delete your own account."), messages.ERROR)
            return None
        if "confirm" not in request.POST:
            return self.action_page(
                request,
                "delete_accounts.html",
                _("Delete accounts with their mail?"),
                accounts=users,
                messages_total=Message.objects.filter(owner__in=users).count(),
            )
        actor = actions.Actor.of(request)
        removed = sum(actions.delete_account(actor, user) for user in users)
        self.message_user(
            request,
            ngettext(
                "%(n)d account deleted with its mail.",
                "%(n)d accounts deleted with their mail.",
                len(users),
            )
            % {"n": len(users)}
            + " "
            + ngettext("%(m)d message removed.", "%(m)d messages removed.", removed)
            % {"m": removed},
            messages.SUCCESS,
        )
        return None


# --- Messages: metadata only -----------------------------------------------------------------

# The only fields of a message an operator sees.
MESSAGE_FIELDS = (
    "id",
    "recipient",
    "folder",
    "received_at",
    "size",
    "attachment_count",
    "read_at",
    "message_id_shown",
)


# What is loaded of a message row: the sealed summary is never loaded (nor opened).
ONLY = ["id", "owner__email", "folder", "received_at", "size", "attachment_count", "read_at"]
ONLY += ["message_id"]


@admin.register(Message)
class MessageAdmin(OperatorAdmin):
    allowed_lookups = frozenset({"folder", "folder__exact", "owner", "owner__id__exact"})
    audited = frozenset({"delete"})
    list_display = (
        "received_at",
        "recipient",
        "folder",
        "size",
        "attachment_count",
        "was_read",
        "message_id_shown",
    )
    list_filter = ("folder",)
    search_fields = ("owner__email",)
    ordering = ("-received_at",)
    list_per_page = 100
    show_full_result_count = False
    actions = ("delete_for_good",)
    fields = MESSAGE_FIELDS
    readonly_fields = MESSAGE_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return (
            Message.objects.select_related("owner")
            .only(*ONLY)
            .annotate(
                sealed=ExpressionWrapper(
                    Q(sealed_summary__isnull=False), output_field=BooleanField()
                )
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        listed = [
            f"{m.id}: {m.owner.email}, {m.get_folder_display()}, {quota.size_text(m.size)}, "
            f"received {timezone.localtime(m.received_at):%Y-%m-%d %H:%M}"
            for m in objs
        ]
        return listed, {_("messages"): len(listed)}, set(), []

    @admin.display(description=_("recipient"), ordering="owner__email")
    def recipient(self, message: Message) -> str:
        return message.owner.email

    @admin.display(description=_("read"), boolean=True)
    def was_read(self, message: Message) -> bool:
        return message.read_at is not None

    @admin.display(description="Message-ID")
    def message_id_shown(self, message: Message) -> str:
        if getattr(message, "sealed", False):
            return "(encrypted)"
        return message.message_id or "-"

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        self.delete_queryset(request, Message.objects.filter(id=obj.id))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        owners = sorted(set(queryset.values_list("owner__email", flat=True)))
        removed = mailbox.remove(Message.objects.filter(id__in=ids))
        actions.audit(
            actions.Actor.of(request),
            "delete messages",
            ", ".join(owners)[:400],
            f"{removed} message(s): {' '.join(str(i) for i in ids[:10])}"
            + (" …" if len(ids) > 10 else ""),
        )

    @admin.action(description=_("Delete selected messages for good"), permissions=["delete"])
    def delete_for_good(
        self, request: HttpRequest, queryset: QuerySet[Message]
    ) -> HttpResponse | None:
        if "confirm" not in request.POST:
            return self.action_page(
                request,
                "delete_messages.html",
                _("Delete messages for good?"),
                count=queryset.count(),
                ids=list(queryset.values_list("id", flat=True)),
                owners=sorted(set(queryset.values_list("owner__email", flat=True))),
            )
        count = queryset.count()
        self.delete_queryset(request, queryset)
        self.message_user(
            request,
            ngettext("%(n)d message deleted.", "%(n)d messages deleted.", count) % {"n": count},
            messages.SUCCESS,
        )
        return None


# --- The outgoing queue ------------------------------------------------------------------------


class QueueStateFilter(admin.SimpleListFilter):
    """The states of `sealbox outbox list`; mail that was sent only when asked for."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(state, str(_(state))) for state in queue.STATES] + [
            ("all", str(_("all, sent too")))
        ]

    def choices(self, changelist: Any) -> Iterator[_ListFilterChoices]:
        first, *rest = super().choices(changelist)
        first["display"] = _("not sent")  # Django's "All": the default here
        yield first
        yield from rest

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[OutgoingEmail]
    ) -> QuerySet[OutgoingEmail]:
        if self.value() == "all":
            return queryset
        return queue.in_state(queryset, self.value())


# Never `subject` or `data`: a reply's subject and text are message content.
OUTGOING_FIELDS = (
    "id",
    "kind",
    "state",
    "mail_from",
    "to",
    "created",
    "attempts",
    "next_attempt_at",
    "give_up_at",
    "last_error",
    "sent_at",
)


@admin.register(OutgoingEmail)
class OutgoingAdmin(OperatorAdmin):
    allowed_lookups = frozenset({"kind", "kind__exact", "state"})
    list_display = ("created", "kind", "to", "state", "attempts", "next_attempt_at", "last_error")
    list_filter = (QueueStateFilter, "kind")
    search_fields = ("recipients",)
    ordering = ("-created",)
    actions = ("retry", "discard")
    fields = OUTGOING_FIELDS
    readonly_fields = OUTGOING_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutgoingEmail]:
        return OutgoingEmail.objects.defer("data", "subject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "discard", audited, instead

    @admin.display(description=_("to"))
    def to(self, item: OutgoingEmail) -> str:
        return ", ".join(item.recipients)

    @admin.display(description=_("state"), ordering="status")
    def state(self, item: OutgoingEmail) -> str:
        return "retrying" if item.retrying else str(item.status)

    @admin.action(description=_("Retry selected emails now"))
    def retry(self, request: HttpRequest, queryset: QuerySet[OutgoingEmail]) -> None:
        actor = actions.Actor.of(request)
        n = sum(actions.retry_outgoing(actor, item) for item in queryset)
        self.message_user(
            request,
            ngettext("%(n)d email queued again.", "%(n)d emails queued again.", n) % {"n": n},
            messages.SUCCESS,
        )

    @admin.action(description=_("Discard selected emails (not sent)"))
    def discard(self, request: HttpRequest, queryset: QuerySet[OutgoingEmail]) -> None:
        actor = actions.Actor.of(request)
        n = sum(actions.discard_outgoing(actor, item) for item in queryset)
        self.message_user(
            request,
            ngettext("%(n)d email discarded.", "%(n)d emails discarded.", n) % {"n": n},
            messages.SUCCESS,
        )


# --- The audit log -----------------------------------------------------------------------------


@admin.register(AuditEntry)
class AuditAdmin(OperatorAdmin):
    allowed_lookups = frozenset({"action"})
    list_display = ("at", "actor", "ip", "action", "target", "detail")
    list_filter = ("action",)
    search_fields = ("target", "actor")
    ordering = ("-at", "-id")
    fields = ("at", "actor", "ip", "action", "target", "detail")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
