"""Browser checks of a reader's library pages: writing and editing reviews, reading stats and the yearly goal.

Each runs at desktop width and at 390 px (a phone), by keyboard, and without JavaScript where it matters.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.digests import unsubscribe_token
from accounts.models import ImportedBook, ReadingGoal, Review, User
from accounts.ratings import set_rating
from catalog.models import Author, Book, BookAuthor, Genre

pytestmark = pytest.mark.browser

FOCUSED = "() => { const e = document.activeElement; return [e.tagName, e.id, (e.innerText || e.value || '').trim()]; }"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def tab_to(page, matches, limit=80):
    for _ in range(limit):
        page.keyboard.press("Tab")
        tag, element_id, text = page.evaluate(FOCUSED)
        if matches(tag, element_id, text):
            return
    raise AssertionError("never reached the element with the keyboard")


def fits_the_width(page):
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def library(db):
    """A reader with eight books read over two years, in two genres, with page counts."""
    reader = User.objects.create_user(email="lib@example.com", password="a-long-reading-passphrase-7", display_name="Lib")
    fantasy = Genre.objects.create(name="Fantasy", slug="fantasy")
    science = Genre.objects.create(name="Science Fiction & Fantasy Crossovers", slug="sff")
    this_year = timezone.localdate().year
    books = []
    for n in range(8):
        book = Book.objects.create(title=f"Volume {n} of a Rather Long Series Title", pages=200 + 40 * n)
        author, _ = Author.objects.get_or_create(slug=f"author-{n % 3}", defaults={"name": f"Author Number {n % 3}"})
        BookAuthor.objects.create(book=book, author=author, position=0)
        book.genres.add(fantasy if n % 2 else science)
        set_rating(reader, book, 1 + n % 5)
        ImportedBook.objects.create(user=reader, book=book, rating=1 + n % 5,
                                    date_read=datetime.date(this_year - (n % 2), 1 + n, 10))
        books.append(book)
    unread = Book.objects.create(title="An Unreviewed Book")
    return {"reader": reader, "books": books, "unread": unread}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_write_edit_and_delete_a_review_by_keyboard(browser, live_server, sign_in, shoot, library, viewport):
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(context, library["reader"])
    book = library["unread"]
    name = "phone" if viewport is PHONE else "desktop"
    try:
        page.goto(book.get_absolute_url())
        tab_to(page, lambda tag, element_id, text: tag == "SUMMARY" and text == "Write a review")
        assert page.evaluate("() => document.activeElement.getBoundingClientRect().height") >= 44
        page.keyboard.press("Enter")  # opens the form
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED)[0] == "TEXTAREA"
        page.keyboard.type("   ")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # "Publish review" with only spaces
        expect(page.locator(".errorlist")).to_contain_text("A review needs some text")
        assert page.get_by_label("Your review").get_attribute("aria-invalid") == "true"
        shoot(page, f"review-{name}-01-blank-refused")

        page.get_by_label("Your review").fill("A <b>slow</b> start.\n\nThen it flies.")
        page.get_by_label("Your review").press("Tab")
        page.keyboard.press("Enter")
        expect(page.locator(".messages")).to_contain_text("Your review of An Unreviewed Book is published.")
        own = page.locator("#your-review")
        expect(own).to_contain_text("A <b>slow</b> start.")  # shown as text, not as markup
        expect(own.locator("b")).to_have_count(0)
        assert fits_the_width(page)
        shoot(page, f"review-{name}-02-published")

        tab_to(page, lambda tag, element_id, text: tag == "A" and text == "Edit your review")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Edit your review")).to_be_visible()
        page.get_by_label("Your review").fill("x" * 5001)
        page.get_by_role("button", name="Save review").click()
        expect(page.locator(".errorlist")).to_contain_text("yours has 5,001")
        assert fits_the_width(page)
        shoot(page, f"review-{name}-03-too-long")
        page.get_by_label("Your review").fill("Better on a second reading.")
        page.get_by_role("button", name="Save review").click()
        expect(page.locator("#your-review")).to_contain_text("Better on a second reading.")
        assert Review.objects.get(user=library["reader"], book=book).text == "Better on a second reading."

        tab_to(page, lambda tag, element_id, text: tag == "BUTTON" and text == "Delete your review")
        page.keyboard.press("Enter")
        expect(page.locator(".messages")).to_contain_text("Your review of An Unreviewed Book is deleted.")
        assert not Review.objects.filter(user=library["reader"]).exists()
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_stats_page_charts_tables_and_goal(browser, live_server, sign_in, shoot, library, viewport):
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(context, library["reader"])
    name = "phone" if viewport is PHONE else "desktop"
    this_year = timezone.localdate().year
    try:
        page.goto("/my-books/")
        page.get_by_role("link", name="Reading stats and goal").click()
        expect(page.get_by_role("heading", name="Your reading stats")).to_be_visible()
        charts = page.locator("figure.chart svg")
        assert charts.count() == 7
        for index in range(charts.count()):
            chart = charts.nth(index)
            expect(chart).to_have_attribute("role", "img")
            box = chart.bounding_box()
            assert box["width"] > 200 and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
        assert fits_the_width(page)
        # The bars really are drawn: the largest genre share is the widest bar.
        widths = page.locator("#genres-heading ~ svg rect").evaluate_all("rects => rects.map(r => r.getBBox().width)")
        assert len(widths) == 2 and widths[0] >= widths[1] > 0
        shoot(page, f"stats-{name}-01-charts")

        # Each chart's table opens from the keyboard.
        tab_to(page, lambda tag, element_id, text: tag == "SUMMARY" and text == "Table: genres")
        page.keyboard.press("Enter")
        genre_table = page.get_by_role("table", name="Books read per genre")
        expect(genre_table).to_be_visible()
        expect(genre_table.locator("tbody tr")).to_have_count(2)
        expect(genre_table).to_contain_text("Science Fiction & Fantasy Crossovers")

        # The goal, by keyboard: a refused value keeps what was typed, then a good one shows progress.
        page.goto("/my-books/stats/")
        tab_to(page, lambda tag, element_id, text: element_id == "id_books")
        page.keyboard.type("0")
        page.keyboard.press("Enter")
        expect(page.locator(".goal-card .errorlist")).to_contain_text("Choose a goal from 1 to 1,000 books.")
        expect(page.get_by_label("Books to read this year")).to_have_value("0")
        page.get_by_label("Books to read this year").fill("8")
        page.get_by_label("Books to read this year").press("Enter")
        expect(page.locator(".messages")).to_contain_text(f"Your goal: 8 books in {this_year}.")
        expect(page.locator(".goal-summary")).to_contain_text("4 of 8 books read (50%)")
        expect(page.locator(".goal-card progress")).to_have_attribute("value", "4")
        assert ReadingGoal.objects.get(user=library["reader"]).books == 8
        assert fits_the_width(page)
        shoot(page, f"stats-{name}-02-goal")

        # The monthly chart of last year, from the year links.
        page.get_by_role("navigation", name="Year of the monthly chart").get_by_role("link", name=str(this_year - 1)).click()
        expect(page.get_by_role("heading", name=f"Books and pages per month in {this_year - 1}")).to_be_visible()
    finally:
        context.close()


def test_stats_and_goal_without_javascript(browser, live_server, sign_in, shoot, library):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(context, library["reader"])
    try:
        page.goto("/my-books/stats/")
        expect(page.locator("figure.chart svg").first).to_be_visible()
        page.get_by_text("Table: your stars").click()
        expect(page.get_by_role("table", name="Your ratings by number of stars")).to_be_visible()
        page.get_by_label("Books to read this year").fill("20")
        page.get_by_role("button", name="Set goal").click()
        expect(page.locator(".goal-summary")).to_contain_text("4 of 20 books read")
        page.get_by_role("button", name="Remove goal").click()
        expect(page.locator(".messages")).to_contain_text("reading goal is removed")
        assert not ReadingGoal.objects.exists()
        shoot(page, "stats-nojs")
    finally:
        context.close()


def test_opt_in_on_the_profile_by_keyboard_and_unsubscribe_from_the_link(browser, live_server, sign_in, shoot, library):
    reader = library["reader"]
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(context, reader)
    try:
        page.goto("/profile/")
        tab_to(page, lambda tag, element_id, text: tag == "INPUT" and element_id.startswith("id_digest_frequency"))
        page.keyboard.press("ArrowDown")  # radio buttons move with the arrow keys: "Weekly"
        assert page.get_by_label("Weekly").is_checked()
        page.get_by_role("button", name="Save").first.focus()
        page.keyboard.press("Enter")
        expect(page.locator(".messages")).to_contain_text("Your profile is saved.")
        reader.refresh_from_db()
        assert reader.digest_frequency == "weekly"
        assert fits_the_width(page)
        shoot(page, "digest-01-profile")
    finally:
        context.close()

    # The link in an email, opened in a browser that is not signed in and runs no script.
    path = reverse("accounts:unsubscribe", args=[unsubscribe_token(reader)])
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(path)
        expect(page.get_by_role("heading", name="Stop recommendation emails?")).to_be_visible()
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
        shoot(page, "digest-02-unsubscribed")
        reader.refresh_from_db()
        assert reader.digest_frequency == ""
    finally:
        context.close()
