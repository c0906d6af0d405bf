"""The agencies app's API routes (under /api/v1/, see coordination/api/urls.py)."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("agencies", views.AgencyViewSet, basename="agency")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("agreements", views.AgreementViewSet, basename="agreement")

urlpatterns = router.urls
