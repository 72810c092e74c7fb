"""Rating where the books are, in a real browser: from a search card, at phone width, by keyboard, without JS."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Rating, User

pytestmark = pytest.mark.browser

PASSWORD = "a-long-reading-passphrase-7"
PHONE = {"width": 390, "height": 844}


def ratings_of(user):
    return dict(Rating.objects.filter(rater__user=user).values_list("book__title", "value"))


def new_reader(email):
    return User.objects.create_user(email=email, password=PASSWORD)


def box_of(locator):
    box = locator.bounding_box()
    assert box is not None, "the control is not rendered"
    return box


def test_rate_from_a_search_card(demo_site, page, screenshot, sign_in):
    reader = new_reader("cards@example.com")
    sign_in(page.context, reader)
    page.goto("/search/?q=the+hobit+tolkien")
    row = page.locator("main ol.book-list li.book-row").first
    expect(row.locator("h3")).to_have_text("The Hobbit")
    summary = row.locator("summary")
    expect(summary).to_have_text(re.compile("Rate it"))
    summary.click()
    row.get_by_role("button", name="Rate 4 stars").click()
    # Rated in place: the summary shows the rating, the menu closes, the page did not move.
    expect(summary).to_contain_text("Your rating")
    expect(summary).to_contain_text("★★★★☆")
    expect(row.locator("details.card-rate")).not_to_have_attribute("open", "")
    assert page.url.endswith("/search/?q=the+hobit+tolkien")
    assert ratings_of(reader) == {"The Hobbit": 4}
    screenshot("cards-01-rated-from-search")
    # The book page agrees, and so does a card elsewhere (its menu marks the chosen stars).
    summary.click()
    expect(row.get_by_role("button", name="Rate 4 stars")).to_have_attribute("aria-pressed", "true")
    row.get_by_role("button", name="Clear rating").click()
    expect(summary).to_have_text(re.compile("Rate it"))
    assert ratings_of(reader) == {}


def test_phone_width_tap_targets_and_your_rating_above_the_fold(demo_site, browser, shoot, sign_in):
    reader = new_reader("phone@example.com")
    context = browser.new_context(base_url=demo_site, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    sign_in(context, reader)
    page = context.new_page()
    try:
        # The book page: "Your rating" and its five stars in the first screen, each star at least 44 x 44.
        page.goto("/search/?q=pride+and+prejudice")
        page.locator("main ol.book-list h3 a").first.click()
        heading = page.get_by_role("heading", name="Your rating")
        expect(heading).to_be_visible()
        assert box_of(heading)["y"] + box_of(heading)["height"] <= PHONE["height"], box_of(heading)
        stars = page.locator("main .book-actions").first.locator(".star-form button")
        expect(stars).to_have_count(5)
        for n in range(5):
            box = box_of(stars.nth(n))
            assert box["width"] >= 44 and box["height"] >= 44, box
            assert box["y"] + box["height"] <= PHONE["height"], box
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        shoot(page, "cards-02-phone-book-page")
        stars.nth(2).tap()
        expect(stars.nth(2)).to_have_attribute("aria-pressed", "true")

        # A browse card: the rate control and each choice it opens are 44 px targets, all on the screen.
        page.goto("/books/")
        card = page.locator("main .book-card").first
        summary = card.locator("summary")
        summary.scroll_into_view_if_needed()
        assert box_of(summary)["height"] >= 44
        summary.tap()
        choices = card.locator(".star-menu button")
        expect(choices).to_have_count(5)
        for n in range(5):
            box = box_of(choices.nth(n))
            assert box["width"] >= 44 and box["height"] >= 44, box
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        shoot(page, "cards-03-phone-card-menu")
        choices.nth(0).tap()  # 5 stars: the menu lists them best first
        expect(summary).to_contain_text("★★★★★")

        # Onboarding rows: stars at least 44 x 44 and inside the screen's width.
        page.goto("/recommendations/start/")
        row_stars = page.locator("main li.book-row").first.locator(".star-form button")
        for n in range(5):
            box = box_of(row_stars.nth(n))
            assert box["width"] >= 44 and box["height"] >= 44, box
            assert box["x"] + box["width"] <= PHONE["width"], box
        shoot(page, "cards-04-phone-onboarding")
        assert len(ratings_of(reader)) == 2
    finally:
        context.close()


FOCUSED = "() => { const e = document.activeElement; return [e.tagName, e.innerText || '']; }"


def tab_to(page, matches, limit=80):
    for _ in range(limit):
        page.keyboard.press("Tab")
        tag, text = page.evaluate(FOCUSED)
        if matches(tag, text.strip()):
            return
    raise AssertionError("never reached the element with the keyboard")


def test_keyboard_tab_to_a_card_star_and_enter_rates(demo_site, page, screenshot, sign_in):
    reader = new_reader("keyboard-cards@example.com")
    sign_in(page.context, reader)
    page.goto("/search/?q=dune+herbert")
    expect(page.locator("main ol.book-list h3 a").first).to_have_text("Dune")
    page.locator("main h1").click()  # start tabbing from the results, past the header
    tab_to(page, lambda tag, text: tag == "SUMMARY" and "Rate it" in text)
    page.keyboard.press("Enter")
    tab_to(page, lambda tag, text: tag == "BUTTON" and "Rate 5 stars" in text, limit=2)
    outline = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
    assert outline != "none", "focus must be visible"
    screenshot("cards-05-keyboard-focus-on-card-star")
    page.keyboard.press("Enter")
    row = page.locator("main ol.book-list li.book-row").first
    expect(row.locator("summary")).to_contain_text("★★★★★")
    # Focus is back on the control, so the next Tab carries on from this book.
    assert page.evaluate(FOCUSED)[0] == "SUMMARY"
    assert ratings_of(reader) == {"Dune": 5}
    # Escape closes an open menu without rating.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    expect(row.locator("details.card-rate")).not_to_have_attribute("open", "")
    assert ratings_of(reader) == {"Dune": 5}


def test_without_javascript_card_and_onboarding_ratings_keep_the_readers_place(demo_site, browser, shoot):
    reader = new_reader("nojs-cards@example.com")
    context = browser.new_context(base_url=demo_site, java_script_enabled=False, viewport=PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=login]", reader.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main").get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

        # A card far down the second browse page: after the POST the page comes back scrolled to it.
        page.goto("/books/?page=2")
        card = page.locator("main .book-card").nth(15)
        title = card.locator("h3").inner_text()
        card.locator("summary").click()  # <details> opens without JavaScript
        card.get_by_role("button", name="Rate 3 stars").click()
        expect(page).to_have_url(re.compile(r"/books/\?page=2#book-\d+$"))
        card = page.locator(page.url[page.url.index("#"):])
        expect(card.locator("summary")).to_contain_text("Your rating")
        expect(card).to_be_in_viewport()
        assert ratings_of(reader) == {title: 3}
        shoot(page, "cards-06-nojs-card-rated")

        # Onboarding: "Show more" lands on the new batch; rating there comes back to the same row.
        page.goto("/recommendations/start/")
        page.get_by_role("link", name="Show more books").click()
        expect(page).to_have_url(re.compile(r"/recommendations/start/\?more=2#more-2$"))
        expect(page.locator("#more-2")).to_be_in_viewport()
        row = page.locator("#more-2 li.book-row").nth(5)
        picked = row.locator("h3").inner_text()
        row.get_by_role("button", name="Rate 4 stars").click()
        expect(page).to_have_url(re.compile(r"\?more=2#book-\d+$"))
        row = page.locator(page.url[page.url.index("#"):])
        expect(row.get_by_role("button", name="Rate 4 stars")).to_have_attribute("aria-pressed", "true")
        expect(row).to_be_in_viewport()
        expect(page.locator("[data-rated-count]")).to_have_text("2")
        assert ratings_of(reader) == {title: 3, picked: 4}

        # Its search box finds a book to rate, and the counter stops at the goal.
        page.fill("#onboarding-search", "harry potter")
        page.locator("main form.onboarding-search").get_by_role("button", name="Search").click()
        results = page.locator("main section[aria-labelledby=onboarding-results-heading] li.book-row")
        expect(results.first.locator("h3")).to_contain_text("Harry Potter")
        for n in range(4):  # six ratings in all
            page.locator("section[aria-labelledby=onboarding-results-heading] li.book-row").nth(n).get_by_role(
                "button", name="Rate 5 stars"
            ).click()
            expect(page).to_have_url(re.compile(r"\?q=harry\+potter#book-\d+$"))
        expect(page.locator("#onboarding-count")).to_have_text("5 of 5 rated")
        expect(page.get_by_role("link", name=re.compile("Continue to your recommendations"))).to_be_visible()
        shoot(page, "cards-07-nojs-onboarding-goal")
    finally:
        context.close()
