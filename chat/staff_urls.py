from django.urls import path

from chat import staff_views

app_name = "staff"

urlpatterns = [
    path("", staff_views.dashboard, name="dashboard"),
    path("c/<int:conversation_id>/", staff_views.dashboard, name="conversation"),
    path("c/<int:conversation_id>/export.json", staff_views.export, name="export"),
]
