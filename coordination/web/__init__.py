"""Page helpers shared by every app: listing and error handling (``pages``), form fields,
widgets and validators, CSV exports, rate limits on posts, and the context processor."""
