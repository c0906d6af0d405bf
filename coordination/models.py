"""The core's models: the person (custom user, login by e-mail); the notification outbox,
notifications, preferences and the mail outbox (``coordination.notifications``); API tokens and
used one-time links (``coordination.accounts``); idempotency keys (``coordination.api``). The
audit event is defined beside its chain in ``coordination.audit.models`` and imported here."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django.utils.module_loading import import_string

from . import db
from .audit.models import AuditEvent, AuditEventQuerySet, AuditTrailIsAppendOnly
from .validators import line_field, line_validators, validate_time_zone

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuditEventQuerySet",
    "AuditTrailIsAppendOnly",
    "Event",
    "IdempotencyKey",
    "Notification",
    "NotificationPreference",
    "OutboundEmail",
    "UsedLink",
    "User",
    "UserSession",
]


class UserManager(BaseUserManager["User"]):
    """Creates people who log in with their e-mail address, and reads one by its id with
    one prepared statement."""

    use_in_migrations = True

    def get(self, *args: Any, **kwargs: Any) -> User:
        """``QuerySet.get``; but the person by their id alone, which Django's
        authentication backend asks on every signed-in request (``ModelBackend.get_user``:
        ``_default_manager.get(pk=...)``), is one statement prepared once per connection
        (``coordination.db``): 0.55 ms where building, compiling and planning the ORM's
        query took 0.95. The same row, made as the ORM makes it (``db.maker``)."""
        keys = kwargs.keys()
        if args or len(kwargs) != 1 or not keys <= {"pk", "id"} or self._db:
            return super().get(*args, **kwargs)
        model = self.model
        pk = model._meta.pk.get_prep_value(next(iter(kwargs.values())))
        sql = f"SELECT {db.columns(model, 'u')} FROM {model._meta.db_table} u WHERE u.id = %s"  # noqa: S608 - the model's table; the value is a parameter
        rows = db.fetch_all(sql, (pk,)) if pk is not None and -(2**63) <= pk < 2**63 else []
        if not rows:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        return db.maker(model)(rows[0])

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("is_portal_admin", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who uses Concord. Their agency comes from their active membership.

    ``is_portal_admin`` marks the people who onboard agencies and keep the role
    templates; it grants nothing inside a task force (need-to-know applies to them too).
    """

    username = None  # type: ignore[assignment]
    first_name = line_field("first name", max_length=150, blank=True)
    last_name = line_field("last name", max_length=150, blank=True)
    email = models.EmailField("e-mail address", unique=True, validators=line_validators())
    job_title = line_field(max_length=150, blank=True)
    phone = line_field(max_length=40, blank=True)
    is_portal_admin = models.BooleanField(
        "portal administrator",
        default=False,
        help_text="Onboards agencies and keeps role templates. Grants no task force access.",
    )
    # Where the person reads times (coordination.timefmt); blank: their agency's zone.
    time_zone = models.CharField(
        max_length=64, blank=True, default="", validators=[validate_time_zone]
    )

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("last_name", "first_name", "email")

    def __str__(self) -> str:
        return self.name_of(self.first_name, self.last_name, self.email)

    @staticmethod
    def name_of(first_name: str, last_name: str, email: str) -> str:
        """How a person is named everywhere (``str(user)``): their full name, or their
        address when they have none -- from the columns alone, for lists that read them
        without building a User."""
        return f"{first_name} {last_name}".strip() or email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()


class Event(models.Model):
    """The notification outbox: something that happened, recorded in the same transaction
    as the change that caused it. Workers fan it out to its recipients after commit; a
    rolled-back change leaves no event, so nothing is sent for it. ``key`` makes events of
    periodic checks (reminders, expiry warnings) happen once."""

    kind = models.CharField(max_length=60, db_index=True)
    key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    actor = models.ForeignKey(
        "coordination.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # for kinds that also write to an address outside Concord (an applicant agency)
    external_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("created_at",),
                name="event_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_type}#{self.object_id}"


class LiveChange(models.Model):
    """The live pages' outbox: "this region of these pages changed", recorded in the same
    transaction as the change. After commit a relay computes who may see it *then* (the
    permission core's audience) and appends it to each of those people's Redis streams,
    which their open pages read (``coordination.live``, decision 10). A rolled-back change
    leaves no row; a row the relay missed (Redis down, a lost task) is published by the
    sweeper. Published rows are deleted after ``CONCORD_LIVE_KEEP_SECONDS``."""

    # what listens: "tf:<task force id>" for a task force's pages, "me" for a person's own
    topic = models.CharField(max_length=60)
    regions = models.JSONField(default=list)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(
                fields=("created_at",),
                name="livechange_unpublished",
                condition=models.Q(published_at__isnull=True),
            ),
            models.Index(fields=("published_at",), name="livechange_published"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.object_type}#{self.object_id}"


class Notification(models.Model):
    """What one person is told about one event: in their notification centre, and by
    e-mail according to their preferences. One per (event, recipient), enforced here."""

    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate", "Immediately by e-mail"
        DIGEST = "digest", "In the daily digest e-mail"
        IN_APP = "in_app", "In Concord only"

    class EmailStatus(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        HELD = "held", "Held to be combined with others"
        SENT = "sent", "Sent"
        DIGEST = "digest", "Waiting for the daily digest"
        NONE = "none", "No e-mail"
        WITHDRAWN = "withdrawn", "Not sent: no longer visible to the recipient"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        "coordination.User", on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=60)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    group_key = models.CharField(max_length=60, blank=True)
    critical = models.BooleanField(default=False)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    # The bundle (a held burst or a daily digest) this notification was claimed for: the
    # left part of that e-mail's Message-ID. Set before the e-mail leaves, so an e-mail
    # interrupted by a dead worker goes out again as the same bundle with the same
    # Message-ID. Empty for a notification e-mailed alone.
    email_bundle = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("event", "recipient"), name="one_notification_per_event_and_recipient"
            ),
        ]
        indexes = [
            models.Index(fields=("recipient", "read_at")),
            models.Index(fields=("email_status", "created_at")),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """How a person wants to hear about one kind of event. Critical kinds ignore it."""

    user = models.ForeignKey(
        "coordination.User", on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=60)
    delivery = models.CharField(max_length=10, choices=Notification.Delivery.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "kind"), name="one_preference_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} → {self.delivery}"


class ApiToken(models.Model):
    """A personal API token: lets its owner's own systems call the API as them.

    Only the SHA-256 hash of the secret is stored; the secret is shown once, when the token
    is created. ``prefix`` (the secret's first characters) lets the owner tell tokens apart.
    """

    owner = models.ForeignKey(
        "coordination.User", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = line_field(max_length=100)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class UsedLink(models.Model):
    """A one-time link that has been used (``coordination.accounts.onetime``): what it was for and a
    digest of its secret, never the secret itself. The unique pair is what makes a link
    work once: of two transactions using it at the same moment, the second waits for the
    first and is refused."""

    purpose = models.CharField(max_length=40)
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("purpose", "digest"), name="link_used_once"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} link used {self.used_at:%Y-%m-%d %H:%M}"


class OutboundEmail(models.Model):
    """An e-mail on its way out: the mail outbox (``coordination.notifications.mail``).

    Every e-mail Concord sends that is not a notification (invitations, password resets,
    allauth's security notices, anything sent through Django's mail API) is written here in
    the transaction of the change that causes it, then sent by a worker that retries until
    the mail server takes it. ``message_id`` is chosen when it is queued, so a copy sent
    again after a worker died between sending and recording is recognisably the same."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"

    message_id = models.CharField(max_length=250, unique=True)
    from_email = models.CharField(max_length=300)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.TextField()
    body = models.TextField(blank=True)
    # [[content, mimetype], ...]: e.g. an HTML version next to the plain text
    alternatives = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("created_at",),
                name="outbound_email_unsent",
                condition=~models.Q(status="sent"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)}"


class IdempotencyKey(models.Model):
    """An API create done under an ``Idempotency-Key`` header, and the answer it got.

    Written in the transaction of the create itself, so a create that rolled back leaves
    no key and a retry runs afresh; a create that committed is answered again, from
    here, to a retry with the same key and body (``coordination.api.idempotency``)."""

    user = models.ForeignKey(
        "coordination.User", on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    # the body exactly as the first answer rendered it
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "key"), name="idempotency_key_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.key}"


class UserSession(AbstractBaseSession):
    """A browser session (Django's database session store, ``SESSION_ENGINE`` =
    ``coordination.accounts.sessions``) with the signed-in person's id beside it.

    Django's own session table holds only an encoded blob, so "end every session of this
    person" would mean decoding every session there is; with the id in its own indexed
    column it is one ``DELETE`` (``coordination.accounts.deprovision``), used when an
    agency's identity provider deactivates someone (SCIM)."""

    # no foreign key: a session is written on sign-in and may outlive nothing, and the
    # person's row must never be locked by a session write
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        db_table = "coordination_user_session"

    @classmethod
    def get_session_store_class(cls) -> Any:
        # by name: the model layer imports nothing of accounts (the import contracts)
        return import_string("coordination.accounts.sessions.SessionStore")
