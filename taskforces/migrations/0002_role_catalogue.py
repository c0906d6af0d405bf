"""Load the default role catalogue (see taskforces/catalogue.py)."""

from django.db import migrations


def load(apps, schema_editor):
    from taskforces.catalogue import DEFAULT_ROLE_TEMPLATES

    RoleTemplate = apps.get_model("taskforces", "RoleTemplate")
    for data in DEFAULT_ROLE_TEMPLATES:
        RoleTemplate.objects.get_or_create(slug=data["slug"], defaults={**data, "capabilities": [str(c) for c in data["capabilities"]]})


class Migration(migrations.Migration):
    dependencies = [("taskforces", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
