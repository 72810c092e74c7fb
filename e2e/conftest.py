"""Browser-journey fixtures: the demo site (catalog, demo readers, a trained model) behind the live server."""

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from recommender import serving

# Quick to train, still enough for the demo readers' tastes to show.
TRAINING = ["--epochs", "8", "--factors", "16", "--seed", "1", "--force"]


@pytest.fixture
def demo_site(live_server):
    """The demo catalog with 60 demo readers and an active model; returns the live server's URL."""
    cache.clear()
    serving.forget_model()
    call_command("load_demo", "--readers", "60", "--allow-demo-logins", stdout=io.StringIO())
    call_command("retrain", *TRAINING, stdout=io.StringIO())
    yield live_server.url
    serving.forget_model()
    cache.clear()


@pytest.fixture
def sign_in(live_server):
    """Put a signed-in session for `user` into a browser context (what logging in would leave behind)."""

    def sign_in(context, user):
        client = Client()
        client.force_login(user)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])

    return sign_in


@pytest.fixture
def shoot(tmp_path_factory):
    """Screenshots of any page (also of extra browser contexts), into the session's screenshots folder."""
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)

    def take(page, name):
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
