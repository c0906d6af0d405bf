"""Django admin for mutual aid. Everything is made and changed in Concord itself through
the services, so the admin only shows it — each list through the permission core (a
portal administrator, holding no role, sees no request, offer or commitment)."""

from __future__ import annotations

from django.contrib import admin

from coordination.admin import ReadOnlyAdmin

from .models import AgencyCapability, Commitment, Offer, ResourceKind, ResourceRequest

WHERE = "Raised, offered, accepted and tracked in Concord (task force → Mutual aid). "


@admin.register(ResourceKind)
class ResourceKindAdmin(ReadOnlyAdmin):
    description = (
        "The typed resource catalogue (NIMS-style). Read-only: it is loaded by a data "
        "migration (mutualaid/catalogue.py), as the role catalogue is."
    )
    list_display = ("name", "category", "nims_type", "unit", "code", "is_active")
    list_filter = ("category", "is_active")
    search_fields = ("name", "code", "description")


@admin.register(AgencyCapability)
class AgencyCapabilityAdmin(ReadOnlyAdmin):
    description = "Published by each agency's liaison officers and administrators in Concord."
    list_display = ("agency", "kind", "typical_quantity", "notes", "updated_at")
    list_select_related = ("agency", "kind")


@admin.register(ResourceRequest)
class ResourceRequestAdmin(ReadOnlyAdmin):
    description = WHERE
    list_display = ("__str__", "task_force", "requesting_agency", "quantity", "status", "marking")
    list_select_related = ("task_force", "requesting_agency", "kind")


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    description = WHERE
    list_display = ("__str__", "request", "status", "created_at")
    list_select_related = ("agency", "request__kind")


@admin.register(Commitment)
class CommitmentAdmin(ReadOnlyAdmin):
    description = WHERE
    list_display = ("__str__", "status", "status_changed_at")
    list_select_related = ("agency", "request")
