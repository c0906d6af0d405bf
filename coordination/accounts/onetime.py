"""One-time links are used exactly once, however many browsers submit them at once.

A link's token stays valid until something it does changes (a password reset token until
the password changes), so ten submissions that all arrive before the first commits would
all pass that check. :func:`use_once` records the use in ``UsedLink`` under a unique
constraint, in the caller's transaction: a concurrent second use waits for the first on
the index and, once it commits, is refused; if the first rolls back, the link still works.
Every one-time link goes through it: the invitation's "choose your password" link
(``agencies.views.ChoosePasswordView``), allauth's password reset link
(``coordination.accounts.signin.ResetPasswordOnceForm``) and the acknowledgement link of a
critical update (``taskforces.views.acknowledge_by_link``).
"""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction

from coordination.models import UsedLink

INVITATION = "invitation"
RESET = "reset"  # allauth's password reset link
ACKNOWLEDGEMENT = "acknowledgement"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def use_once(purpose: str, token: str) -> bool:
    """Record that the link ``token`` (for ``purpose``) is used now; False when it has
    been used already, by this or a concurrent transaction. Call it in the transaction
    that does what the link is for, before doing it."""
    try:
        with transaction.atomic():  # a savepoint: the refusal leaves the caller's work alone
            UsedLink.objects.create(purpose=purpose, digest=digest(token))
    except IntegrityError:
        return False
    return True


def was_used(purpose: str, token: str) -> bool:
    return UsedLink.objects.filter(purpose=purpose, digest=digest(token)).exists()
