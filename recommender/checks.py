"""Deployment checks for what the recommender and the login rate limits need from the cache."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches, deploy=True)
def shared_cache_check(app_configs, **kwargs):
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith(("LocMemCache", "DummyCache")):
        return [
            Warning(
                "The cache is per process: login rate limits are counted per worker, and workers learn of a "
                "new model only by polling the database.",
                hint="Set REDIS_URL so every worker shares one cache.",
                id="bookrec.W001",
            )
        ]
    return []
