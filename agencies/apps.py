from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    """Agencies, their lifecycle, memberships and information-sharing agreements."""

    name = "agencies"

    def ready(self) -> None:
        from coordination import audit

        from . import notifications, permissions  # noqa: F401  (registers policies and kinds)
        from .selectors import membership_of

        def agency_label(user: object) -> str:
            membership = membership_of(user)
            return str(membership.agency) if membership else ""

        audit.set_agency_label_resolver(agency_label)

        from coordination.accounts import signin

        def requires_phishing_resistant(user: object) -> bool:
            membership = membership_of(user)
            return bool(membership and membership.agency.requires_phishing_resistant_mfa)

        signin.set_phishing_resistant_rule(requires_phishing_resistant)
