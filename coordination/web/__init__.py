"""Page helpers shared by every app: listing, refusals and error pages (``pages``), form
fields and widgets, CSV exports (each recorded in the audit trail), rate limits on posts,
and the context processor every page's navigation reads."""
