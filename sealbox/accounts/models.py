"""Recipient and operator accounts, and the one-time links that open them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from sealbox import addresses


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        try:
            email = addresses.normalize(username or "")
        except addresses.InvalidAddress:
            # Not an address at all: no such account (sign-in says so as for any other).
            raise self.model.DoesNotExist from None
        return self.get(email=email)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=addresses.normalize(email), **extra)
        if password:
            user.set_password(password)
            user.activated_at = timezone.now()
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def recipient(self, email: str) -> tuple[User, bool]:
        """Find the mailbox owner for an address, creating a not-yet-activated account.

        Safe against two deliveries creating the same account at once.
        """
        normalized = addresses.normalize(email)
        try:
            return self.get(email=normalized), False
        except self.model.DoesNotExist:
            pass
        try:
            with transaction.atomic():
                return self.create_user(normalized), True
        except IntegrityError:
            return self.get(email=normalized), False


class ReadReceipts(models.TextChoices):
    """The reader's own answer to "send a read receipt?" (outbound/receipts.decision)."""

    ASK = "ask", _("Ask me each time")
    ALWAYS = "always", _("Always send one")
    NEVER = "never", _("Never send one")


class User(AbstractBaseUser, PermissionsMixin):
    email = models.CharField(
        _("email address"), max_length=addresses.MAX_ADDRESS_LENGTH, unique=True
    )
    display_name = models.CharField(_("name"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("operator"), default=False)
    created = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    # None: SEALBOX_ALLOW_COMPOSE decides; True/False: this account's own setting.
    allow_compose = models.BooleanField(_("may write new messages"), null=True, blank=True)
    # Two-factor sign-in with an authenticator app (RFC 6238): the base32 secret,
    # when it was turned on, and the last time step a code was accepted for
    # (a code is never accepted twice).
    totp_secret = models.CharField(max_length=64, blank=True, editable=False)
    totp_enabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    totp_last_step = models.BigIntegerField(default=0, editable=False)
    # Part of every session's check: raising it ends all sessions at once.
    session_generation = models.PositiveIntegerField(default=0, editable=False)
    # Storage (sealbox/housekeeping): None takes the operator's default.
    quota_mb = models.PositiveIntegerField(
        _("quota (MiB)"), null=True, blank=True, help_text=_("Empty: the default; 0: no limit.")
    )
    retention_days = models.PositiveIntegerField(
        _("keep messages for (days)"), null=True, blank=True
    )
    expiry_reminders = models.BooleanField(
        _("reminders before unread mail is removed"), default=True
    )
    # Bytes of every message stored for this account, kept in step with its
    # messages in the same transactions (mailstore/quota.py).
    usage_bytes = models.BigIntegerField(_("storage used (bytes)"), default=0, editable=False)
    # When the recipient was told that mail was refused for a full mailbox;
    # cleared once there is room again, so they are told once per time it fills.
    quota_full_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the last expiry reminder was queued: at most one a day, however steadily mail comes.
    expiry_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The language the recipient chose (a code from settings.LANGUAGES); empty:
    # not chosen, so the browser, the address's domain or the default decides.
    language = models.CharField(_("language"), max_length=10, blank=True)
    # The personal phrase every email to this recipient carries after
    # activation, so that they can tell Sealbox's mail from a phishing copy.
    phrase = models.CharField(_("personal phrase"), max_length=100, blank=True, editable=False)
    # What happens when a message asks for a read receipt, where the operator
    # leaves it to the reader (SEALBOX_READ_RECEIPTS=ask; outbound/receipts.py).
    read_receipts = models.CharField(
        _("read receipts"), max_length=10, choices=ReadReceipts.choices, default=ReadReceipts.ASK
    )
    # The WebAuthn user handle every passkey of the account carries (accounts/passkeys.py):
    # random, made with the first passkey, and kept for good, so that a sign-in by
    # passkey alone names its account whatever becomes of the secret key.
    passkey_handle = models.BinaryField(max_length=64, null=True, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return self.email

    @classmethod
    def normalize_username(cls, username: str) -> str:
        """The canonical form (addresses.normalize), not Django's NFKC, which is another address."""
        try:
            return addresses.normalize(username)
        except addresses.InvalidAddress:
            return username

    @property
    def is_activated(self) -> bool:
        return self.activated_at is not None

    @property
    def quota_bytes(self) -> int | None:
        """The storage this account may use; None for no limit."""
        mb = settings.QUOTA_MB if self.quota_mb is None else self.quota_mb
        return mb * 1024 * 1024 if mb else None

    @property
    def effective_retention_days(self) -> int:
        """Days messages are kept (0: for ever): the account's choice or the default."""
        return settings.RETENTION_DAYS if self.retention_days is None else self.retention_days

    @property
    def may_compose(self) -> bool:
        return settings.ALLOW_COMPOSE if self.allow_compose is None else self.allow_compose

    @property
    def has_totp(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def has_two_factor(self) -> bool:
        """Whether signing in takes a second step: an authenticator code or a passkey."""
        return self.has_totp or self.passkeys.exists()

    @property
    def passkey_only(self) -> bool:
        """Whether the account signs in with a passkey alone: it has a passkey and no password.

        Its passkey stands where a password would (links.link_alone_signs_in),
        and changes to how it signs in are confirmed with the passkey.
        """
        return not self.has_usable_password() and self.passkeys.exists()

    @property
    def has_way_in(self) -> bool:
        """Whether the account has a way in of its own: a password or a passkey.

        One without (never activated, signed in with an emailed code; or its
        passkeys removed by an operator) gets one only through an emailed link.
        """
        return self.has_usable_password() or self.passkeys.exists()

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's session check, extended by the session generation, so that
        # "sign out everywhere" and a two-factor reset end every session
        # without touching the password.
        return salted_hmac(
            "sealbox.accounts.User.session",
            f"{self.password}\0{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def end_all_sessions(self) -> None:
        """Make every existing session of this account invalid (they sign out on next use)."""
        User.objects.filter(pk=self.pk).update(
            session_generation=models.F("session_generation") + 1
        )
        self.refresh_from_db(fields=["session_generation"])


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii", "replace")).hexdigest()


class LinkToken(models.Model):
    """A one-time link: activation (first password) or password reset.

    Only the SHA-256 of the token is stored; the token itself exists only in
    the email that carries it.
    """

    class Purpose(models.TextChoices):
        ACTIVATE = "activate", _("activation")
        RESET = "reset", _("password reset")

    RESET_HOURS = 24

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="link_tokens")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} link for {self.user_id}"

    @classmethod
    def lifetime(cls, purpose: str) -> timedelta:
        """How long a new link works: SEALBOX_ACTIVATION_DAYS, or a day for a password reset."""
        if purpose == cls.Purpose.ACTIVATE:
            return timedelta(days=settings.ACTIVATION_DAYS)
        return timedelta(hours=cls.RESET_HOURS)

    @classmethod
    def issue(cls, user: User, purpose: str) -> str:
        """Create a token and return its raw value (256 random bits)."""
        raw = secrets.token_urlsafe(32)
        cls.objects.create(
            user=user,
            purpose=purpose,
            token_hash=hash_token(raw),
            expires_at=timezone.now() + cls.lifetime(purpose),
        )
        return raw

    @classmethod
    def find_valid(cls, raw: str, purpose: str) -> LinkToken | None:
        return cls.find_valid_hash(hash_token(raw), purpose)

    @classmethod
    def find_valid_hash(cls, token_hash: str, purpose: str) -> LinkToken | None:
        return (
            cls.objects.select_related("user")
            .filter(
                token_hash=token_hash,
                purpose=purpose,
                used_at__isnull=True,
                expires_at__gt=timezone.now(),
                user__is_active=True,
            )
            .first()
        )


class EmailCode(models.Model):
    """A six-digit sign-in code sent by email (accounts/emailcode.py has the rules).

    Only an HMAC of the code, keyed with the server's secret and the asking
    browser session's own random value, is stored: the code works from that
    session only, and a copy of the database does not give it away.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_codes")
    code_hash = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Set when the code was used, replaced by a newer one, or voided by wrong tries.
    used_at = models.DateTimeField(null=True, blank=True)
    wrong = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["user", "created"])]

    def __str__(self) -> str:
        return f"sign-in code for {self.user_id}"


class RecoveryCode(models.Model):
    """A single-use code that stands in for the second factor; only its hash is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"])]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class Passkey(models.Model):
    """A WebAuthn credential registered as a second factor."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=60)
    # base64url of the credential ID, as browsers send it back.
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created"]

    def __str__(self) -> str:
        return self.name


class Activity(models.Model):
    """One entry of an account's activity log ("Recent activity")."""

    class Kind(models.TextChoices):
        SIGNIN = "signin", _("Signed in")
        SIGNIN_FAILED = "signin_failed", _("Failed sign-in")
        LOCKED = "locked", _("Sign-in paused after failed attempts")
        SIGNOUT_EVERYWHERE = "signout_all", _("Signed out everywhere")
        PASSWORD_SET = "password_set", _("Password created")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        PASSWORD_RESET = "password_reset", _("Password reset by email link")
        TOTP_ON = "totp_on", _("Two-factor sign-in turned on")
        TOTP_OFF = "totp_off", _("Two-factor sign-in turned off")
        RECOVERY_NEW = "recovery_new", _("New recovery codes")
        RECOVERY_USED = "recovery_used", _("Recovery code used")
        PASSKEY_ADDED = "passkey_added", _("Passkey added")
        PASSKEY_REMOVED = "passkey_removed", _("Passkey removed")
        TWO_FACTOR_RESET = "2fa_reset", _("Two-factor sign-in reset by an operator")
        RETENTION_CHANGED = "retention_changed", _("Retention period changed")
        PHRASE_CHANGED = "phrase_changed", _("Personal phrase changed")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="activity")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"])]
        verbose_name_plural = _("activity")

    def __str__(self) -> str:
        return f"{self.kind} {self.user_id} {self.at:%Y-%m-%d %H:%M}"


class Throttle(models.Model):
    """Failed attempts counted for one key (an address or a client address, hashed)."""

    key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure = models.DateTimeField(default=timezone.now)
    last_failure = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key[:12]}: {self.failures}"
