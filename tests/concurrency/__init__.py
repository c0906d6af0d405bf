"""Concurrent requests against PostgreSQL: the races outside testers found, and a soak."""
