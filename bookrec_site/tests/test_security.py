"""Security: who may see what (permission matrix), CSRF on every POST, headers, cookies and login limits."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts.models import GoodreadsImport, Rating, ShelfEntry, User
from accounts.ratings import set_rating
from catalog.models import Author, Book, BookAuthor, Genre

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"


@pytest.fixture
def shelf_world(db, reader, other_reader):
    """Two books rated and shelved by two readers, each reader's data distinct, and one import each."""
    genre = Genre.objects.create(name="Gothic", slug="gothic")
    author = Author.objects.create(name="Mary Shelley", slug="mary-shelley")
    books = {}
    for key, title in [("mine", "Frankenstein"), ("theirs", "The Last Man"), ("shelf", "Mathilda"), ("their_shelf", "Valperga")]:
        books[key] = Book.objects.create(title=title)
        BookAuthor.objects.create(book=books[key], author=author, position=0)
        books[key].genres.add(genre)
    set_rating(reader, books["mine"], 5)
    set_rating(other_reader, books["theirs"], 2)
    ShelfEntry.objects.create(user=reader, book=books["shelf"])
    ShelfEntry.objects.create(user=other_reader, book=books["their_shelf"])
    imports = {
        "mine": GoodreadsImport.objects.create(user=reader, filename="mine.csv", report={"counts": {"imported": 1}}),
        "theirs": GoodreadsImport.objects.create(user=other_reader, filename="theirs.csv", report={"counts": {"imported": 7}}),
    }
    return {"books": books, "genre": genre, "author": author, "imports": imports}


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def personas(reader, other_reader, staff):
    return {"anonymous": None, "reader": reader, "other": other_reader, "staff": staff}


# ---------------------------------------------------------------------------------- permission matrix

PUBLIC_PAGES = [
    ("catalog:home", []),
    ("catalog:book_list", []),
    ("catalog:search", []),
    ("catalog:suggest", []),
    ("account_login", []),
    ("account_signup", []),
    ("account_reset_password", []),
]
READER_PAGES = [
    "accounts:my_books",
    "accounts:profile",
    "accounts:export_json",
    "accounts:export_csv",
    "accounts:delete_account",
    "accounts:goodreads_import",
    "accounts:onboarding",
    "recommender:for_you",
    "account_change_password",
    "account_email",
]


@pytest.mark.parametrize("persona", ["anonymous", "reader", "other", "staff"])
def test_public_pages_are_open_to_everyone(shelf_world, personas, persona):
    client = client_for(personas[persona])
    book = shelf_world["books"]["mine"]
    urls = [reverse(name, args=args) for name, args in PUBLIC_PAGES] + [
        book.get_absolute_url(),
        reverse("catalog:book_cover", args=[book.pk]),
        reverse("catalog:author_detail", args=[shelf_world["author"].slug]),
        reverse("catalog:genre_detail", args=[shelf_world["genre"].slug]),
        "/healthz",
    ]
    for url in urls:
        response = client.get(url)
        # Logged-in readers are sent away from the login and sign-up pages; that's fine.
        if persona != "anonymous" and url in (reverse("account_login"), reverse("account_signup")):
            assert response.status_code in (200, 302), url
        else:
            assert response.status_code == 200, url


# For you instead explains itself to an anonymous visitor and offers sign-up (recommender/tests/test_for_you.py).
LOGIN_ONLY_PAGES = [name for name in READER_PAGES if name != "recommender:for_you"]


@pytest.mark.parametrize("name", LOGIN_ONLY_PAGES)
def test_reader_pages_send_anonymous_visitors_to_log_in(db, client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]


@pytest.mark.parametrize("persona", ["reader", "other", "staff"])
@pytest.mark.parametrize("name", READER_PAGES)
def test_reader_pages_open_for_any_signed_in_person(shelf_world, personas, persona, name):
    response = client_for(personas[persona]).get(reverse(name))
    # For you sends readers with few ratings to onboarding: still their own page, not an error.
    assert response.status_code in (200, 302), (name, response.status_code)
    if response.status_code == 302:
        assert not response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("name", ["accounts:rate", "accounts:shelf"])
def test_anonymous_actions_are_sent_to_log_in_and_change_nothing(shelf_world, client, name):
    book = shelf_world["books"]["mine"]
    before = (Rating.objects.count(), ShelfEntry.objects.count())
    response = client.post(reverse(name, args=[book.pk]), {"value": "1", "action": "add"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert (Rating.objects.count(), ShelfEntry.objects.count()) == before


def test_a_readers_import_result_is_404_for_everyone_else(shelf_world, personas):
    mine = reverse("accounts:goodreads_import_result", args=[shelf_world["imports"]["mine"].pk])
    assert client_for(personas["reader"]).get(mine).status_code == 200
    for persona in ("other", "staff"):
        response = client_for(personas[persona]).get(mine)
        assert response.status_code == 404, persona
        assert b"mine.csv" not in response.content
    anonymous = client_for(None).get(mine)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("account_login"))


def test_unknown_import_result_is_404(shelf_world, personas):
    response = client_for(personas["reader"]).get(reverse("accounts:goodreads_import_result", args=[999_999]))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "mine", "theirs"),
    [
        ("accounts:my_books", "Frankenstein", "The Last Man"),
        ("accounts:export_json", "Frankenstein", "The Last Man"),
        ("accounts:export_csv", "Frankenstein", "The Last Man"),
    ],
)
def test_a_reader_never_sees_another_readers_data(shelf_world, personas, name, mine, theirs):
    for me, other in (("reader", "other"), ("other", "reader")):
        body = client_for(personas[me]).get(reverse(name)).content.decode()
        expected, hidden = (mine, theirs) if me == "reader" else (theirs, mine)
        assert expected in body, (me, name)
        assert hidden not in body, (me, name)
        assert personas[other].email not in body


def test_want_to_read_lists_only_my_shelf(shelf_world, personas):
    body = client_for(personas["reader"]).get(reverse("accounts:my_books") + "?list=want").content.decode()
    assert "Mathilda" in body and "Valperga" not in body


def test_a_reader_cannot_change_another_readers_rating_or_shelf(shelf_world, personas):
    theirs = shelf_world["books"]["theirs"]
    their_shelf = shelf_world["books"]["their_shelf"]
    client = client_for(personas["reader"])
    # Rating the same book only ever writes my own row.
    client.post(reverse("accounts:rate", args=[theirs.pk]), {"value": "5"})
    client.post(reverse("accounts:shelf", args=[their_shelf.pk]), {"action": "remove"})
    other = personas["other"]
    assert Rating.objects.get(rater__user=other, book=theirs).value == 2
    assert ShelfEntry.objects.filter(user=other, book=their_shelf).exists()
    assert Rating.objects.get(rater__user=personas["reader"], book=theirs).value == 5


def _admin_urls():
    urls = ["/admin/"]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    return urls


@pytest.mark.parametrize("persona", ["anonymous", "reader", "other"])
def test_admin_is_closed_to_everyone_but_staff(shelf_world, personas, persona):
    client = client_for(personas[persona])
    for url in _admin_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert "login" in response["Location"], url
    # A reader who is signed in still cannot post an admin action.
    book = shelf_world["books"]["mine"]
    response = client.post(
        reverse("admin:catalog_book_changelist"),
        {"action": "hide_from_recommendations", "_selected_action": [book.pk]},
    )
    assert response.status_code in (302, 403)
    book.refresh_from_db()
    assert book.hidden_from_recommendations is False


def test_staff_reach_every_admin_list_and_a_book_page(shelf_world, personas):
    client = client_for(personas["staff"])
    for url in _admin_urls():
        assert client.get(url).status_code == 200, url
    book = shelf_world["books"]["mine"]
    assert client.get(reverse("admin:catalog_book_change", args=[book.pk])).status_code == 200


def test_staff_without_model_permissions_get_403_not_data(shelf_world):
    clerk = User.objects.create_user(email="clerk@example.com", password=PASSWORD, is_staff=True)
    client = client_for(clerk)
    assert client.get("/admin/").status_code == 200
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 403
    assert b"reader@example.com" not in response.content


# ---------------------------------------------------------------------------------- CSRF


def csrf_client(user=None):
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def token_from(client, url):
    """The CSRF token the way a browser gets it: from the form on a page."""
    html = client.get(url).content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, f"no CSRF token in the form at {url}"
    return match.group(1)


def csrf_posts(books, imports):
    book = books["mine"]
    return [
        # (url, data, page the form lives on)
        (reverse("accounts:rate", args=[book.pk]), {"value": "3"}, book.get_absolute_url()),
        (reverse("accounts:shelf", args=[book.pk]), {"action": "add"}, book.get_absolute_url()),
        (reverse("accounts:profile"), {"display_name": "Mallory"}, reverse("accounts:profile")),
        (reverse("accounts:delete_account"), {"password": PASSWORD}, reverse("accounts:delete_account")),
        (reverse("accounts:goodreads_import"), {}, reverse("accounts:goodreads_import")),
        (reverse("account_logout"), {}, reverse("accounts:profile")),
        (reverse("account_change_password"),
         {"oldpassword": PASSWORD, "password1": "a-new-long-passphrase-9", "password2": "a-new-long-passphrase-9"},
         reverse("account_change_password")),
        (reverse("account_email"), {"email": "mallory@example.com", "action_add": ""}, reverse("account_email")),
    ]


def test_every_signed_in_post_is_refused_without_a_csrf_token(shelf_world, reader):
    client = csrf_client(reader)
    for url, data, _ in csrf_posts(shelf_world["books"], shelf_world["imports"]):
        response = client.post(url, data)
        assert response.status_code == 403, url
    reader.refresh_from_db()
    assert reader.display_name == "Rita"
    assert reader.check_password(PASSWORD)
    assert User.objects.filter(pk=reader.pk).exists()
    assert Rating.objects.get(rater__user=reader).value == 5
    assert not ShelfEntry.objects.filter(user=reader, book=shelf_world["books"]["mine"]).exists()


def test_a_forged_token_is_refused_too(shelf_world, reader):
    client = csrf_client(reader)
    token_from(client, reverse("accounts:profile"))  # the client now has a real CSRF cookie
    response = client.post(reverse("accounts:profile"), {"display_name": "Mallory", "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    reader.refresh_from_db()
    assert reader.display_name == "Rita"


def test_posts_with_the_pages_token_go_through(shelf_world, reader):
    client = csrf_client(reader)
    book = shelf_world["books"]["mine"]
    token = token_from(client, book.get_absolute_url())
    response = client.post(reverse("accounts:rate", args=[book.pk]), {"value": "3", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Rating.objects.get(rater__user=reader, book=book).value == 3
    token = token_from(client, reverse("accounts:profile"))
    response = client.post(reverse("accounts:profile"), {"display_name": "Rosa", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.display_name == "Rosa"


def test_anonymous_posts_need_a_token_too(db, reader):
    client = csrf_client()
    for url, data in [
        (reverse("account_login"), {"login": reader.email, "password": PASSWORD}),
        (reverse("account_signup"), {"email": "new@example.com", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"}),
        (reverse("account_reset_password"), {"email": reader.email}),
        ("/admin/login/", {"username": reader.email, "password": PASSWORD}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert not User.objects.filter(email="new@example.com").exists()
    assert "_auth_user_id" not in client.session


def test_admin_actions_need_a_token(shelf_world, staff):
    client = csrf_client(staff)
    book = shelf_world["books"]["mine"]
    url = reverse("admin:catalog_book_changelist")
    response = client.post(url, {"action": "hide_from_recommendations", "_selected_action": [book.pk]})
    assert response.status_code == 403
    book.refresh_from_db()
    assert not book.hidden_from_recommendations
    token = token_from(client, url)
    response = client.post(
        url, {"action": "hide_from_recommendations", "_selected_action": [book.pk], "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    book.refresh_from_db()
    assert book.hidden_from_recommendations


def test_login_with_a_token_works_and_sets_secure_cookies(db, reader):
    client = csrf_client()
    token = token_from(client, reverse("account_login"))
    response = client.post(
        reverse("account_login"), {"login": reader.email, "password": PASSWORD, "csrfmiddlewaretoken": token}, secure=True,
        headers={"referer": "https://testserver/accounts/login/"},  # over HTTPS Django also checks the Referer
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["samesite"].lower() == "lax"
    assert client.cookies["csrftoken"]["secure"]


# ---------------------------------------------------------------------------------- headers and production settings


def test_https_pages_carry_hsts_and_the_other_headers(db, client):
    for url in ("/", reverse("catalog:book_list"), reverse("account_login"), "/healthz"):
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        assert "max-age=31536000" in response["Strict-Transport-Security"]
        assert "includeSubDomains" in response["Strict-Transport-Security"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        if url != "/healthz":
            csp = response["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_behind_the_proxy_x_forwarded_proto_counts_as_https(db, client):
    response = client.get("/", headers={"x-forwarded-proto": "https"})
    assert "Strict-Transport-Security" in response


def test_error_pages_carry_the_headers_too(db, client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"(src|href)=\"(https?:)?//", re.I), "asset from another origin"),
]


def test_pages_need_nothing_the_csp_forbids(shelf_world, personas):
    """Every site page, as a reader, has no inline script or style and no third-party asset."""
    book = shelf_world["books"]["mine"]
    urls = [
        "/", reverse("catalog:book_list"), reverse("catalog:search") + "?q=frankenstien", book.get_absolute_url(),
        reverse("catalog:author_detail", args=["mary-shelley"]), reverse("catalog:genre_detail", args=["gothic"]),
        reverse("accounts:my_books"), reverse("accounts:my_books") + "?list=want", reverse("accounts:profile"),
        reverse("accounts:goodreads_import"), reverse("accounts:delete_account"), reverse("accounts:onboarding"),
        reverse("accounts:goodreads_import_result", args=[shelf_world["imports"]["mine"].pk]),
        reverse("account_change_password"), reverse("account_email"), "/no-such-page/",
    ]
    client = client_for(personas["reader"])
    for url in urls:
        response = client.get(url, follow=True)
        html = response.content.decode()
        for pattern, what in INLINE:
            match = pattern.search(html)
            assert match is None, f"{url} has an {what}: {html[max(0, match.start() - 80):match.end() + 80]!r}"


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "p" * 64,
    "ALLOWED_HOSTS": "books.example.org",
    "DATABASE_URL": "postgres://bookrec@db.example.org:5432/bookrec",
    "DJANGO_SETTINGS_MODULE": "bookrec_site.settings",
}
PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_PROXY_SSL_HEADER", "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY", "ALLOWED_HOSTS", "ACCOUNT_EMAIL_VERIFICATION"]}
    | {"cache": s.CACHES["default"]["BACKEND"], "rate_limits": s.ACCOUNT_RATE_LIMITS}))
"""


def test_production_settings_make_cookies_secure_and_force_https():
    env = {k: v for k, v in os.environ.items() if k not in {"SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(PRODUCTION_ENV)
    result = subprocess.run([sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["ALLOWED_HOSTS"] == ["books.example.org"]
    assert values["ACCOUNT_EMAIL_VERIFICATION"] == "mandatory"
    # Rate limits need a real cache; DummyCache would silently disable them.
    assert "DummyCache" not in values["cache"]
    assert values["rate_limits"]["login_failed"]


def test_plain_http_is_redirected_to_https_when_ssl_redirect_is_on(db, client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/books/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/books/"
    # The health check stays reachable over plain HTTP for the load balancer.
    assert client.get("/healthz").status_code == 200


def test_unknown_host_is_refused(db, client):
    response = client.get("/", headers={"host": "evil.example.net"})
    assert response.status_code == 400


# ---------------------------------------------------------------------------------- rate limits


def test_failed_logins_from_one_address_are_limited_across_accounts(db):
    """Password spraying: many accounts, one wrong password each, from one address."""
    victims = [User.objects.create_user(email=f"victim{n}@example.com", password=PASSWORD) for n in range(7)]
    client = Client(REMOTE_ADDR="203.0.113.9")
    for victim in victims[:5]:
        response = client.post(reverse("account_login"), {"login": victim.email, "password": "Winter2024!"})
        assert "Too many failed login attempts" not in response.content.decode()
    response = client.post(reverse("account_login"), {"login": victims[6].email, "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not punished for it.
    other = Client(REMOTE_ADDR="198.51.100.4")
    response = other.post(reverse("account_login"), {"login": victims[6].email, "password": PASSWORD})
    assert response.status_code == 302
    assert other.session["_auth_user_id"] == str(victims[6].pk)


def test_failed_logins_on_one_account_are_limited_from_any_address(db, reader):
    """A distributed guesser: the same account from many addresses."""
    for n in range(5):
        Client(REMOTE_ADDR=f"192.0.2.{n + 1}").post(reverse("account_login"), {"login": reader.email, "password": f"guess{n}"})
    client = Client(REMOTE_ADDR="192.0.2.99")
    response = client.post(reverse("account_login"), {"login": reader.email, "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_admin_login_reached_directly_is_limited(db, staff):
    """Guessing at /admin/login/ (followed to the login form) is counted and limited like any login."""
    client = Client(REMOTE_ADDR="203.0.113.50")
    login_url = client.get("/admin/login/?next=/admin/")["Location"]
    for n in range(5):
        client.post(login_url, {"login": staff.email, "password": f"admin{n}"})
    response = client.post(login_url, {"login": staff.email, "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    # Posting straight to the admin's own form never logs anyone in.
    client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert client.get("/admin/").status_code == 302


@pytest.mark.browser
def test_pages_satisfy_the_csp_in_a_real_browser(shelf_world, reader, page, live_server):
    """Chromium reports every CSP violation on the console; a reader's tour of the site must cause none."""
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.on("pageerror", lambda error: violations.append(f"script error: {error}"))
    client = Client()
    client.force_login(reader)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    book = shelf_world["books"]["mine"]
    for url in ["/", "/books/?genre=gothic&sort=title", "/search/?q=frankenstien", book.get_absolute_url(),
                "/authors/mary-shelley/", "/genres/gothic/", "/my-books/", "/my-books/?list=want", "/profile/",
                "/import/goodreads/", "/recommendations/start/", "/accounts/password/change/", "/no-such-page/"]:
        response = page.goto(url)
        assert response.headers.get("content-security-policy"), url
        page.wait_for_load_state("networkidle")
    # The scripts' own work: as-you-type suggestions and rating in place.
    page.goto(book.get_absolute_url())
    page.fill("#site-search", "frank")
    page.wait_for_selector("#search-suggestions li", timeout=5000)
    page.locator("main .book-actions").first.get_by_role("button", name="Rate 2 stars").click()
    page.wait_for_function("() => document.querySelector('main .book-actions button[value=\"2\"]').getAttribute('aria-pressed') === 'true'")
    assert violations == []
