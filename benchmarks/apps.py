from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """Development only: the scale data, the benchmarks and their bare yardstick views.

    Installed by ``coordination.settings.benchmark`` and ``coordination.settings.test``,
    never by the settings that serve people."""

    name = "benchmarks"
    verbose_name = "Benchmarks"
