"""The mutual aid API: resource requests, offers, commitments, resource kinds and agency
capabilities (under /api/v1/)."""
