"""Concord's project package and shared coordination core."""

from .celery import app as celery_app

__all__ = ("celery_app",)
