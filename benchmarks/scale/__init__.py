"""Scale data for measuring: the data set (data), the bulk writer (writer) and the seeder
that writes it (seeder); ``manage.py seed_scale`` runs it."""
