"""Indexes chosen from the scale benchmark (benchmarks/README.md).

The agreements-parties table (Django's automatic many-to-many table, so the index is
created here in SQL rather than declared on a model) gets (agency_id,
sharingagreement_id): the permission core asks "which agreements is my agency a party
to" for every permission-filtered list, and a big agency is a party to thousands; with
this index the answer is read from the index alone."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0004_agency_name_unique_ignoring_case"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX agreement_parties_by_agency "
                "ON agencies_sharingagreement_parties (agency_id, sharingagreement_id)"
            ),
            reverse_sql="DROP INDEX agreement_parties_by_agency",
        ),
    ]
