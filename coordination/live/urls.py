from django.urls import path

from coordination.live import views

app_name = "live"

urlpatterns = [
    path("stream/", views.stream, name="stream"),
    path("versions/", views.versions, name="versions"),
]
