"""Agency pages: application, directory, agency page, review, status, people, agreements;
and the one-time link an invited person follows to choose a password. (The access review,
``agencies:access-review``, joins this namespace in the project's URLconf: it is task-force
work, in ``taskforces/access_review.py``.)"""

from django.urls import path
from django.views.generic import TemplateView

from . import views
from .identity import views as identity

app_name = "agencies"

urlpatterns = [
    path("apply/", views.apply, name="apply"),
    path("apply/thanks/", views.apply_done, name="apply-done"),
    path("agencies/", views.directory, name="directory"),
    path("agencies/applications/", views.review_queue, name="review-queue"),
    path("agencies/<int:pk>/", views.agency_detail, name="detail"),
    path("agencies/<int:pk>/review/", views.review, name="review"),
    path("agencies/<int:pk>/status/", views.agency_status, name="status"),
    path("agencies/<int:pk>/people/", views.people, name="people"),
    path("agencies/<int:pk>/people/invite/", views.invite, name="invite"),
    # the agency's own identity provider (agencies/identity/, docs/identity.md)
    path("agencies/<int:pk>/identity-provider/", identity.provider_page, name="identity-provider"),
    path(
        "agencies/<int:pk>/identity-provider/test/",
        identity.provider_test,
        name="identity-provider-test",
    ),
    path(
        "agencies/<int:pk>/identity-provider/enable/",
        identity.provider_enable,
        name="identity-provider-enable",
    ),
    path("agencies/<int:pk>/sign-in-requests/", identity.sign_in_requests, name="sign-in-requests"),
    path(
        "sign-in-requests/<int:pk>/decide/",
        identity.decide_sign_in_request,
        name="sign-in-request-decide",
    ),
    # the sign-in page's "Continue with your agency" (under /accounts/ with allauth's pages)
    path("accounts/agency/", identity.agency_sign_in, name="agency-sign-in"),
    path("agencies/<int:pk>/identity/", views.identity, name="identity"),
    path("agencies/<int:pk>/identity/scim-tokens/", views.scim_token_new, name="scim-token-new"),
    path("scim-tokens/<int:pk>/revoke/", views.scim_token_revoke, name="scim-token-revoke"),
    path("agencies/<int:pk>/agreements/new/", views.agreement_new, name="agreement-new"),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement"),
    path("memberships/<int:pk>/role/", views.membership_role, name="membership-role"),
    path("memberships/<int:pk>/end/", views.membership_end, name="membership-end"),
    path(
        "memberships/<int:pk>/resend-invitation/",
        views.membership_resend_invitation,
        name="membership-resend-invitation",
    ),
    path(
        "welcome/<uidb64>/<token>/",
        views.ChoosePasswordView.as_view(),
        name="set-password",
    ),
    path(
        "welcome/done/",
        TemplateView.as_view(template_name="agencies/set_password_done.html"),
        name="set-password-done",
    ),
]
