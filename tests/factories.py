"""factory_boy factories. Records with rules are made through services in the fixtures;
these make the plain rows those services start from."""

from __future__ import annotations

import factory

from agencies.models import Agency, Membership
from coordination.models import User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.gov")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Agency {n}")
    acronym = factory.Sequence(lambda n: f"AG{n}")
    level = Agency.Level.NATIONAL
    sector = Agency.Sector.EMERGENCY_MANAGEMENT
    contact_email = factory.Sequence(lambda n: f"contact{n}@agency.example.gov")
    status = Agency.Status.ACTIVE


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Membership.Role.STAFF


def person(agency: Agency, role: str = Membership.Role.STAFF, **kwargs: object) -> User:
    """A person who belongs to ``agency`` with an agency-level role."""
    return MembershipFactory(agency=agency, role=role, user=UserFactory(**kwargs)).user


def acting_for(agency: Agency) -> User:
    """An administrator of ``agency`` (one is made when it has none): who acts for it in a
    sharing agreement."""
    found = (
        Membership.objects.filter(agency=agency, is_active=True, role=Membership.Role.ADMIN)
        .select_related("user")
        .first()
    )
    return found.user if found else person(agency, Membership.Role.ADMIN)


def agreement_in_force(*, parties: list[Agency], **terms: object) -> object:
    """A sharing agreement as the parties make it: proposed by an administrator of the
    first party, accepted by one of each other party (``agencies.services``)."""
    import datetime

    from agencies import services

    terms.setdefault("title", "Information sharing")
    terms.setdefault("valid_from", datetime.date(2020, 1, 1))
    agreement = services.propose_agreement(parties=parties, by=acting_for(parties[0]), **terms)  # type: ignore[arg-type]
    for other in parties[1:]:
        agreement = services.accept_agreement(agreement=agreement, by=acting_for(other))
    return agreement
