"""Mutual aid: resource requests between agencies (ICS 213RR), from request to
demobilisation. Layered above ``taskforces`` (docs/mutual-aid.md)."""
