"""Real-browser journeys through the demo site: a new reader's first session, staff curation, keyboard only, no JS."""

import json
import re

import pytest
from playwright.sync_api import expect

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD, STAFF_EMAIL, STAFF_PASSWORD
from accounts.models import Rating, ShelfEntry, User
from catalog.models import Book
from recommender import api

pytestmark = pytest.mark.browser

PASSWORD = "a-long-reading-passphrase-7"


def ratings_of(email):
    return dict(Rating.objects.filter(rater__user__email=email).values_list("book__title", "value"))


def card_titles(page, scope="main"):
    return page.locator(f"{scope} .book-card h3 a").all_inner_texts()


def test_reader_journey(demo_site, page, screenshot, tmp_path):
    # Sign up.
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.fill("input[name=email]", "ada@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("main").get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot("reader-01-signed-up")

    # For you starts with onboarding: rate five books, in place.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="For you").click()
    expect(page).to_have_url(re.compile(r"/recommendations/start/$"))
    expect(page.get_by_role("heading", name="Rate a few books to start")).to_be_visible()
    continue_link = page.get_by_role("link", name=re.compile("Continue to your recommendations"))
    expect(continue_link).to_be_hidden()
    rows = page.locator("li.book-row")
    onboarding_titles = []
    for n in range(5):
        row = rows.nth(n)
        onboarding_titles.append(row.locator("h3").inner_text())
        row.get_by_role("button", name="Rate 5 stars").click()
        expect(page.locator("[data-rated-count]")).to_have_text(str(n + 1))
        expect(row.get_by_role("button", name="Rate 5 stars")).to_have_attribute("aria-pressed", "true")
    # Every row shows a cover (the drawn one when the book has no image), not an empty box.
    first_cover = rows.first.locator("img.cover")
    expect(first_cover).to_be_visible()
    assert first_cover.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot("reader-02-onboarding-rated")
    assert ratings_of("ada@example.com") == dict.fromkeys(onboarding_titles, 5)

    # Personal picks, each with a reason, none of them a book already rated.
    continue_link.click()
    expect(page.get_by_role("heading", name="For you", exact=True)).to_be_visible()
    expect(page.get_by_text("Picked from the 5 books you rated")).to_be_visible()
    # The picks (the "Continue your series" row above them says which volume comes next instead).
    reasons = page.locator("main .for-you-grid .book-card .reason").all_inner_texts()
    assert len(reasons) >= 10
    assert all("Because you liked" in reason or "Matches the books you rated" in reason for reason in reasons), reasons
    assert any(title in reason for reason in reasons for title in onboarding_titles)
    assert not set(card_titles(page)) & set(onboarding_titles)
    screenshot("reader-03-for-you")

    # Search with a typo, open the book, rate it.
    page.fill("#site-search", "hary poter sorcerer")
    page.press("#site-search", "Enter")
    expect(page.get_by_role("heading", name=re.compile("Results for"))).to_be_visible()
    first = page.locator("main ol.book-list h3 a").first
    expect(first).to_have_text("Harry Potter and the Sorcerer's Stone")
    screenshot("reader-04-search-typo")
    first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Harry Potter and the Sorcerer's Stone")
    page.locator("main .book-actions").first.get_by_role("button", name="Rate 4 stars").click()
    expect(page.locator("main .book-actions").first.get_by_role("button", name="Rate 4 stars")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_role("button", name="Clear rating").first).to_be_visible()
    # Rating put it on Read, in place: a rated book offers no Want to read (it was read), only a re-read.
    actions = page.locator("main .book-actions").first
    expect(actions.get_by_role("button", name="✓ Read")).to_have_attribute("aria-pressed", "true")
    expect(actions.get_by_role("button", name="+ Want to read")).to_have_count(0)
    expect(actions.get_by_role("button", name="Want to read", exact=True)).to_be_hidden()
    expect(actions.get_by_role("button", name="Currently reading", exact=True)).to_be_visible()
    screenshot("reader-05-book-rated")
    assert ratings_of("ada@example.com")["Harry Potter and the Sorcerer's Stone"] == 4

    # The rating shows on My books.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My books").click()
    row = page.locator("li.book-row", has=page.get_by_role("link", name="Harry Potter and the Sorcerer's Stone"))
    expect(row.get_by_role("button", name="Rate 4 stars")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("main li.book-row")).to_have_count(6)
    screenshot("reader-06-my-books")

    # Add a book to want-to-read; it is listed there.
    page.fill("#site-search", "nineteen eighty four orwell")
    page.press("#site-search", "Enter")
    page.locator("main ol.book-list h3 a", has_text="1984").first.click()
    page.get_by_role("button", name="+ Want to read").first.click()
    expect(page.get_by_role("button", name="✓ Want to read").first).to_be_visible()
    page.goto("/my-books/?shelf=to-read")
    expect(page.locator("main li.book-row h3")).to_have_text(["1984"])
    screenshot("reader-07-want-to-read")

    # Import a Goodreads export: matched by ISBN, by title and author, a to-read, and one unknown book.
    export = tmp_path / "goodreads_library_export.csv"
    export.write_text(
        "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,Publisher,Binding,"
        "Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,"
        "Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies\n"
        '111,"Dune (Dune, #1)",Frank Herbert,"Herbert, Frank",,"=""""","=""9780340839935""",4,4.2,,,,,1965,2021/03/01,,,,read,,,,1,0\n'
        '222,Gone Girl,Gillian Flynn,"Flynn, Gillian",,"=""""","=""""",3,4.0,,,,,2012,,,,,read,,,,1,0\n'
        '333,The Great Gatsby,F. Scott Fitzgerald,"Fitzgerald, F. Scott",,"=""""","=""""",0,3.9,,,,,1925,,,to-read,,to-read,,,,0,0\n'
        '444,A Book Nobody Wrote,Imaginary Person,"Person, Imaginary",,"=""""","=""""",5,4.0,,,,,2020,,,,,read,,,,1,0\n',
        encoding="utf-8",
    )
    page.goto("/profile/")
    page.get_by_role("link", name="Import from Goodreads").click()
    page.set_input_files("input[type=file]", str(export))
    page.locator("main").get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Your Goodreads import")).to_be_visible()
    main = page.locator("main")
    expect(main).to_contain_text("A Book Nobody Wrote")
    expect(main).to_contain_text("Not in our catalog")
    expect(page.get_by_role("link", name="See your recommendations")).to_be_visible()
    screenshot("reader-08-goodreads-import")
    rated = ratings_of("ada@example.com")
    assert rated["Dune"] == 4 and rated["Gone Girl"] == 3
    to_read = ShelfEntry.objects.filter(user__email="ada@example.com", shelf="to-read")
    assert set(to_read.values_list("book__title", flat=True)) == {"1984", "The Great Gatsby"}

    # Export my data: everything above, and only that.
    page.goto("/profile/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    data = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert data["account"]["email"] == "ada@example.com"
    exported = {row["title"]: row["stars"] for row in data["ratings"]}
    assert exported == rated
    assert {row["Title"] for row in data["library"] if row["Exclusive Shelf"] == "to-read"} == {"1984", "The Great Gatsby"}
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert "Harry Potter and the Sorcerer's Stone" in open(download.value.path(), encoding="utf-8").read()

    # Log out.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")).to_be_visible()
    page.goto("/my-books/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/my-books/"))
    screenshot("reader-09-logged-out")


def _book_with_target_among_similar(target, candidates):
    for book in candidates:
        if any(pick.book.pk == target.pk for pick in api.similar_books(book)):
            return book
    return None


def test_staff_hide_a_book_and_it_leaves_recommendations_and_similar_books(demo_site, page, browser, screenshot,
                                                                          shoot, sign_in):
    demo = User.objects.get(email=DEMO_EMAIL)
    target = api.recommendations_for(demo, limit=12)[0].book
    rated = Book.objects.filter(ratings__rater__user=demo)
    source = _book_with_target_among_similar(target, list(rated) + list(Book.objects.exclude(pk=target.pk)[:300]))
    assert source is not None, "the demo data should make the top pick similar to some book"

    reader_context = browser.new_context(base_url=demo_site)
    reader = reader_context.new_page()
    sign_in(reader_context, demo)
    try:
        # Before: the reader sees it in both places.
        reader.goto("/recommendations/")
        assert target.title in card_titles(reader)
        reader.goto(source.get_absolute_url())
        similar = "section[aria-labelledby=similar-heading]"
        assert target.title in card_titles(reader, similar)

        # Staff log in through the site's login (the admin login is routed there) and hide the book.
        page.goto("/admin/")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        page.fill("input[name=login]", STAFF_EMAIL)
        page.fill("input[name=password]", STAFF_PASSWORD)
        page.locator("main").get_by_role("button", name="Log in").click()
        expect(page.get_by_text("BookRec staff")).to_be_visible()
        page.get_by_role("link", name="Books", exact=True).first.click()
        page.fill("#searchbar", target.title)
        page.press("#searchbar", "Enter")
        page.locator(f"input[name=_selected_action][value='{target.pk}']").check()
        page.select_option("select[name=action]", "hide_from_recommendations")
        page.get_by_role("button", name="Go").click()
        expect(page.get_by_text("1 book hidden from recommendations.")).to_be_visible()
        screenshot("staff-01-book-hidden")
        target.refresh_from_db()
        assert target.hidden_from_recommendations

        # After: gone from the reader's For you and from the similar books, without a retrain.
        reader.goto("/recommendations/")
        titles = card_titles(reader)
        assert len(titles) >= 10 and target.title not in titles
        reader.goto(source.get_absolute_url())
        similar_titles = card_titles(reader, similar)
        assert similar_titles and target.title not in similar_titles
        shoot(reader, "staff-02-reader-similar-after-hide")
        # The book itself is still in the catalog for anyone who looks for it.
        reader.goto(target.get_absolute_url())
        expect(reader.get_by_role("heading", level=1)).to_contain_text(target.title)
    finally:
        reader_context.close()


FOCUSED = "() => { const e = document.activeElement; return [e.tagName, e.id, e.getAttribute('aria-label') || e.innerText]; }"


def tab_to(page, matches, limit=120, key="Tab"):
    """Press Tab until the focused element satisfies `matches(tag, id, text)`; fail if it never does."""
    for _ in range(limit):
        page.keyboard.press(key)
        tag, element_id, text = page.evaluate(FOCUSED)
        if matches(tag, element_id, (text or "").strip()):
            return
    raise AssertionError("never reached the element with the keyboard")


def test_keyboard_only_search_and_rate(demo_site, page, screenshot, sign_in):
    reader = User.objects.create_user(email="keys@example.com", password=PASSWORD)
    sign_in(page.context, reader)
    page.goto("/")
    # The first Tab reaches the skip link.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)[2].strip() == "Skip to content"
    tab_to(page, lambda tag, element_id, text: element_id == "site-search")
    page.keyboard.type("the hobit tolkien")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("Results for"))).to_be_visible()
    tab_to(page, lambda tag, element_id, text: tag == "A" and text == "The Hobbit")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("The Hobbit")
    tab_to(page, lambda tag, element_id, text: tag == "BUTTON" and "Rate 3 stars" in text)
    # Focus must be visible to someone who can't see the mouse pointer.
    outline = page.evaluate("() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }")
    assert outline[0] != "none" or outline[2] != "none", outline
    screenshot("keyboard-01-focus-on-star")
    page.keyboard.press("Enter")
    stars = page.locator("main .book-actions").first.get_by_role("button", name="Rate 3 stars")
    expect(stars).to_have_attribute("aria-pressed", "true")
    assert ratings_of("keys@example.com") == {"The Hobbit": 3}
    # Space works as well as Enter. The stars come 1 to 5 in tab order, so 5 is two Tabs further on.
    tab_to(page, lambda tag, element_id, text: tag == "BUTTON" and "Rate 5 stars" in text, limit=4)
    page.keyboard.press("Space")
    expect(page.locator("main .book-actions").first.get_by_role("button", name="Rate 5 stars")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert ratings_of("keys@example.com") == {"The Hobbit": 5}
    screenshot("keyboard-02-rated")


def test_without_javascript_search_rate_and_shelve(demo_site, browser, shoot):
    User.objects.create_user(email="nojs@example.com", password=PASSWORD)
    context = browser.new_context(base_url=demo_site, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=login]", "nojs@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.locator("main").get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

        page.fill("#site-search", "pride prejudise austen")
        page.get_by_role("banner").get_by_role("button", name="Search").click()
        result = page.locator("main ol.book-list h3 a").first
        expect(result).to_have_text("Pride and Prejudice")
        shoot(page, "nojs-01-search")
        result.click()
        book_url = page.url
        page.locator("main .book-actions").first.get_by_role("button", name="Rate 3 stars").click()
        # A plain POST, then back to the same book page (at its rating) with a message.
        assert page.url == book_url + f"#book-{Book.objects.get(title='Pride and Prejudice').pk}"
        expect(page.locator(".messages")).to_contain_text("You rated Pride and Prejudice 3 stars.")
        expect(page.locator("main .book-actions").first.get_by_role("button", name="Rate 3 stars")).to_have_attribute(
            "aria-pressed", "true"
        )
        assert ratings_of("nojs@example.com") == {"Pride and Prejudice": 3}
        shoot(page, "nojs-02-rated")

        page.get_by_role("button", name="Clear rating").first.click()
        expect(page.locator(".messages")).to_contain_text("Removed your rating of Pride and Prejudice.")
        assert ratings_of("nojs@example.com") == {}

        # Still on Read without its rating; it moves to want-to-read with a plain POST.
        expect(page.locator("main .book-actions").first.get_by_role("button", name="✓ Read")).to_be_visible()
        page.locator("main .book-actions").first.get_by_role("button", name="Want to read", exact=True).click()
        expect(page.locator(".messages")).to_contain_text("Moved Pride and Prejudice to Want to read.")
        page.goto("/my-books/?shelf=to-read")
        expect(page.locator("main li.book-row h3")).to_have_text(["Pride and Prejudice"])
        shoot(page, "nojs-03-want-to-read")

        # Onboarding and For you work without JS too.
        page.goto("/recommendations/")
        expect(page.get_by_role("heading", name="Rate a few books to start")).to_be_visible()
    finally:
        context.close()


def test_demo_login_from_the_readme_works_in_the_browser(demo_site, page, screenshot):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", DEMO_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.goto("/")
    screenshot("demo-home-signed-in")
    page.goto("/recommendations/")
    expect(page.locator("main .for-you-grid .book-card .reason").first).to_contain_text("Because you liked")
    screenshot("demo-for-you")


SHELF_EXPORT = (
    "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,Publisher,Binding,"
    "Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,"
    "Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies\n"
    '1,"The Hobbit, or There and Back Again",J.R.R. Tolkien,"Tolkien, J.R.R.",,"=""""","=""9780618260300""",5,4.2,,,310,,1937,'
    '2019/05/12,2018/11/30,,,read,"Loved it.\nTwice.",,,2,0\n'
    '2,1984,George Orwell,"Orwell, George",,"=""""","=""""",0,4.1,,,,,1949,,2024/01/05,currently-reading,'
    'currently-reading (#1),currently-reading,,,,1,0\n'
    '3,Pride and Prejudice,Jane Austen,"Austen, Jane",,"=""""","=""""",x,4.2,,,,,1813,2024/13/45,2020/01/02,,,read,,,,-1,0\n'
    '4,A Book Nobody Wrote,Imaginary Person,"Person, Imaginary",,"=""""","=""""",4,4.0,,,,,2020,,,,,did-not-finish,,,,1,0\n'
)


@pytest.mark.parametrize("width", [1280, 390])
def test_my_books_shelves_and_the_import_results_fit_and_work(demo_site, browser, sign_in, shoot, tmp_path, width):
    reader = User.objects.create_user(email=f"shelves{width}@example.com", password=PASSWORD)
    context = browser.new_context(base_url=demo_site, viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    sign_in(context, reader)
    page = context.new_page()

    def fits():
        return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    try:
        export = tmp_path / "goodreads_library_export.csv"
        export.write_text(SHELF_EXPORT, encoding="utf-8")
        page.goto("/import/goodreads/")
        page.set_input_files("input[type=file]", str(export))
        page.locator("main").get_by_role("button", name="Import").click()
        main = page.locator("main")
        expect(page.get_by_role("heading", name="Every row")).to_be_visible()
        expect(main.locator("table.import-rows tbody tr")).to_have_count(4)
        expect(main).to_contain_text("Currently reading, unrated")
        expect(main).to_contain_text("Date Read “2024/13/45” is not a date")
        expect(main).to_contain_text("Read Count “-1” is not a whole number")
        expect(main).to_contain_text("My Rating “x” is not a number from 0 to 5")
        expect(main).to_contain_text("Exclusive Shelf “did-not-finish” is not one of BookRec's shelves")
        assert fits(), "the import results overflow the page"
        shoot(page, f"shelves-01-import-result-{width}")

        page.goto("/my-books/")
        expect(page.get_by_role("link", name="Read (2)")).to_be_visible()
        expect(page.get_by_role("link", name="Currently reading (1)")).to_be_visible()
        row = page.locator("li.book-row", has=page.get_by_role("link", name="The Hobbit"))
        expect(row).to_contain_text("Read 12 May 2019")
        expect(row).to_contain_text("read 2 times")
        assert fits(), "My books overflows the page"
        shoot(page, f"shelves-02-my-books-{width}")

        # Sorting by title, then editing a finish date with the plain form.
        page.select_option("#sort", "title")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("main li.book-row h3")).to_have_text(["Pride and Prejudice", "The Hobbit"])
        pride = page.locator("li.book-row", has=page.get_by_role("link", name="Pride and Prejudice"))
        expect(pride).to_contain_text("Finish date not set")
        pride.locator("summary", has_text="Edit dates").click()
        pride.locator("input[name=date_read]").fill("2024-03-31")
        pride.get_by_role("button", name="Save dates").click()
        expect(page.locator(".messages")).to_contain_text("Saved the dates of Pride and Prejudice.")
        expect(page.locator("li.book-row", has=page.get_by_role("link", name="Pride and Prejudice"))).to_contain_text(
            "Read 31 Mar 2024"
        )

        # The shelf chooser moves a book in place (JavaScript): 1984 from currently reading to read.
        page.goto("/my-books/?shelf=currently-reading")
        nineteen = page.locator("li.book-row", has=page.get_by_role("link", name="1984"))
        nineteen.get_by_role("button", name="Read", exact=True).click()
        expect(nineteen.get_by_role("button", name="✓ Read")).to_have_attribute("aria-pressed", "true")
        expect(nineteen.get_by_role("button", name="Currently reading", exact=True)).to_have_attribute("aria-pressed", "false")
        assert ShelfEntry.objects.get(user=reader, book__title="1984").shelf == "read"
        box = nineteen.get_by_role("button", name="✓ Read").bounding_box()
        assert box["height"] >= 44
        shoot(page, f"shelves-03-moved-{width}")

        # The book page's shelf chooser fits too, and works from the keyboard.
        page.goto(Book.objects.get(title="1984").get_absolute_url())
        actions = page.locator("main .book-actions").first
        actions.get_by_role("button", name="Want to read", exact=True).focus()
        page.keyboard.press("Enter")
        expect(actions.get_by_role("button", name="✓ Want to read")).to_have_attribute("aria-pressed", "true")
        assert ShelfEntry.objects.get(user=reader, book__title="1984").shelf == "to-read"
        assert fits(), "the book page overflows"
        shoot(page, f"shelves-04-book-page-{width}")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 900}], ids=["phone", "desktop"])
def test_series_reader_without_javascript_dismisses_and_undoes(demo_site, browser, shoot, sign_in, viewport):
    from accounts.ratings import set_rating
    from catalog.series import position_range

    reader = User.objects.create_user(email="potter@example.com", password=PASSWORD)
    for book in Book.objects.filter(series="Harry Potter"):
        set_rating(reader, book, 5)
    context = browser.new_context(base_url=demo_site, java_script_enabled=False, viewport=viewport)
    context.set_default_timeout(10_000)
    sign_in(context, reader)
    page = context.new_page()
    name = viewport["width"]
    try:
        page.goto("/recommendations/")
        expect(page.get_by_role("heading", name="For you")).to_be_visible()
        titles = card_titles(page)
        shown = {book.title: book for book in Book.objects.filter(title__in=titles)}
        cold = [t for t in titles if shown[t].series not in ("", "Harry Potter")
                and (position_range(shown[t].series_position) or (1, 1))[0] > 1]  # fmt: skip
        assert cold == [], cold
        # Nothing spills sideways on a phone.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        shoot(page, f"series-{name}-01-for-you")

        first = titles[0]
        page.locator("main .book-card").first.get_by_role("button", name=f"Not interested in {first}").click()
        expect(page).to_have_url(re.compile(r"/recommendations/$"))
        message = page.locator(".messages")
        expect(message).to_contain_text(f"{first} won't be recommended to you again.")
        assert first not in card_titles(page)
        shoot(page, f"series-{name}-02-dismissed")
        message.get_by_role("button", name="Undo").click()
        expect(message).to_contain_text(f"{first} may be recommended to you again.")
        assert first in card_titles(page)

        # The book page lists a series in reading order, with the numbers.
        page.goto(Book.objects.get(title="The Return of the King").get_absolute_url())
        expect(page.locator(".series-volumes li")).to_have_text(
            [re.compile(r"#1\s+The Fellowship"), re.compile(r"#2\s+The Two Towers"), re.compile(r"#3\s+The Return")]
        )
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        shoot(page, f"series-{name}-03-book-page")
    finally:
        context.close()
