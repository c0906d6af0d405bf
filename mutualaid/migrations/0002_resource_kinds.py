"""Load the default resource catalogue (see mutualaid/catalogue.py)."""

from django.db import migrations


def load(apps, schema_editor):
    from mutualaid.catalogue import DEFAULT_RESOURCE_KINDS

    ResourceKind = apps.get_model("mutualaid", "ResourceKind")
    for order, (code, name, category, nims_type, unit, description) in enumerate(
        DEFAULT_RESOURCE_KINDS, start=1
    ):
        ResourceKind.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "category": category,
                "nims_type": nims_type,
                "unit": unit,
                "description": description,
                "order": order * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("mutualaid", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
