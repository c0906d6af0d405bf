"""Signals other apps listen to, so agencies imports no other app.

Both are sent inside the service's transaction: receivers' writes commit or roll back
with the change that caused them.
"""

from django.dispatch import Signal

# sent with agency, old_status, new_status, by, reason
agency_status_changed = Signal()
# sent with membership, by, reason — the person no longer belongs to the agency
membership_ended = Signal()
