"""The agencies app's API resources: agencies, memberships, sharing agreements."""
