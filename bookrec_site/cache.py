"""The Redis cache client: errors are logged and treated as misses, and rate limits fail open.

django-redis's IGNORE_EXCEPTIONS turns a failed get into a miss and a failed set into nothing. A failed
``add`` would read as "the key is already there", which allauth takes as a rate-limit lock held by
someone else: every login would wait a second and then be refused. Without a cache there is nothing
for a lock to guard, so a failed ``add`` answers True: rate limits fail open while Redis is down
(a login outage would be worse than a few unthrottled guesses; README, "Redis").
"""

import logging

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted

logger = logging.getLogger("bookrec.cache")


class FailOpenClient(DefaultClient):
    def add(self, *args, **kwargs):
        try:
            return super().add(*args, **kwargs)
        except ConnectionInterrupted as error:
            logger.warning("cache unavailable, add() treated as done: %s", error)
            return True
