"""``manage.py seed_scale`` (moving to benchmarks.scale)."""

from benchmarks.scale.seeder import ADMIN_EMAIL, HEAVY_EMAIL, LIGHT_EMAIL, Command

__all__ = ["ADMIN_EMAIL", "HEAVY_EMAIL", "LIGHT_EMAIL", "Command"]
