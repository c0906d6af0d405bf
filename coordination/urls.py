"""The project's URL configuration: project wiring, so it may import every app (the import
contracts in pyproject.toml name it as an exception to the layers)."""

from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from agencies import urls as agencies_urls
from agencies.identity import views as identity_views
from coordination.accounts import views as accounts
from taskforces import access_review
from taskforces.views import dashboard

# The admin signs people in through allauth too, so its sign-in cannot skip the second
# factor or the lockout.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness check for load balancers and docker-compose."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    # The dashboard spans every task force a person works in. Its name is "dashboard", outside
    # the task forces' namespace, so it is wired here rather than in taskforces.urls.
    path("", dashboard, name="dashboard"),
    path("healthz/", healthz, name="healthz"),
    # allauth's sign-in and sign-out, also under the names the templates use.
    path("accounts/login/", account_views.login, name="login"),
    # signing out also ends the session at the agency's identity provider, if signed in there
    path("accounts/logout/", identity_views.sign_out, name="logout"),
    path("accounts/email/", accounts.email_managed_by_agency, name="account_email"),
    path("accounts/passkey-required/", accounts.passkey_required, name="passkey-required"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("notifications/", include("coordination.notifications.urls")),
    path("audit/", include("coordination.audit.urls")),
    path("live/", include("coordination.live.urls")),
    path("api/", include("coordination.api.urls")),
    # SCIM 2.0 provisioning by agencies' identity providers (agencies/scim/)
    path("scim/v2/", include("agencies.scim.urls")),
    path("api-tokens/", accounts.tokens, name="tokens"),
    path("settings/", accounts.settings_page, name="settings"),
    path("api-tokens/<int:pk>/revoke/", accounts.revoke, name="token-revoke"),
    # The agencies' pages, and among them the access review: task-force work (it recertifies
    # and ends role assignments), so it is defined in taskforces, which agencies never import;
    # it keeps its path and its name (agencies:access-review) by joining the namespace here.
    path("", include((agencies_urls.urlpatterns + access_review.urlpatterns, "agencies"))),
    path("", include("taskforces.urls")),
    path("", include("mutualaid.urls")),
]

# Django's error handlers: the API's JSON error shape under /api/, the portal's pages
# elsewhere (coordination.api.errors).
handler400 = "coordination.api.errors.bad_request"
handler403 = "coordination.api.errors.permission_denied"
handler404 = "coordination.api.errors.page_not_found"
handler500 = "coordination.api.errors.server_error"
