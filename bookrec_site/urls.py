"""Root URLs: each app mounts its own urls.py."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from recommender.health import healthz

admin.site.site_header = "BookRec staff"
admin.site.site_title = "BookRec admin"
# The admin login goes through allauth, so it shares allauth's rate limits.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("healthz", healthz, name="healthz"),
    path("", include("accounts.urls")),
    path("", include("recommender.urls")),
    path("", include("catalog.urls")),
]

handler404 = "catalog.views.page_not_found"
handler500 = "catalog.views.server_error"
