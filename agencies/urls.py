"""Agency pages (placeholder: the agencies pages are being written)."""

app_name = "agencies"

urlpatterns: list = []
