"""The mutual aid API's routes (under /api/v1/, see coordination/api/urls.py)."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("resource-kinds", views.ResourceKindViewSet, basename="resource-kind")
router.register("agency-capabilities", views.AgencyCapabilityViewSet, basename="agency-capability")
router.register("resource-requests", views.ResourceRequestViewSet, basename="resource-request")
router.register("resource-offers", views.OfferViewSet, basename="resource-offer")
router.register("commitments", views.CommitmentViewSet, basename="commitment")

urlpatterns = router.urls
