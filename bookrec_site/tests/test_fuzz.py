"""Bad input: hypothesis throws arbitrary values at every form and query parameter; nothing may answer 500.

Invalid input gets a 4xx with a message, or is ignored with a visible note; it never changes stored data.
The CSV imports (goodbooks `import_goodbooks` and the Goodreads upload) get the broken files that the
apps' own tests don't already cover: each is refused or reported clearly, with nothing half-written.
"""

import csv
import io
import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import GoodreadsImport, ImportedBook, Rater, Rating, ShelfEntry, User
from accounts.ratings import set_rating
from catalog.models import Author, Book, BookAuthor, Genre

PASSWORD = "correct-horse-battery"
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a person or a script might send: any printable or control character (no lone surrogates, which
# can't be sent over HTTP at all), plus the classics.
HOSTILE = [
    "", " ", "\x00", "%00", "' OR 1=1 --", '"; DROP TABLE catalog_book; --', "\\", "%", "_", "*", "?", "&",
    "<script>alert(1)</script>", "{{ 7*7 }}", "${7*7}", "../../etc/passwd", "🐉📚", "ﷺ", "\u202e", "nul\x00byte",
    "-1", "0", "1e308", "NaN", "Infinity", "9" * 40, "-" + "9" * 40, "1.5", "0x10", " 3 ", "٣", "Ⅻ", "²",
    "a" * 10_000,
]
any_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@pytest.fixture
def small_catalog(db):
    fantasy = Genre.objects.create(name="Fantasy", slug="fantasy")
    classics = Genre.objects.create(name="Classics", slug="classics")
    tolkien = Author.objects.create(name="J.R.R. Tolkien", slug="jrr-tolkien")
    austen = Author.objects.create(name="Jane Austen", slug="jane-austen")
    books = []
    for title, author, genre, year, gid in [
        ("The Hobbit", tolkien, fantasy, 1937, 5907),
        ("The Fellowship of the Ring", tolkien, fantasy, 1954, 34),
        ("Pride and Prejudice", austen, classics, 1813, 1885),
        ("Emma", austen, classics, 1815, 6969),
        ("Persuasion", austen, classics, 1817, 2156),
    ]:
        book = Book.objects.create(title=title, publication_year=year, goodreads_book_id=gid, language="eng")
        BookAuthor.objects.create(book=book, author=author, position=0)
        book.genres.add(genre)
        book.save()
        books.append(book)
    return books


@pytest.fixture
def signed_in(reader):
    client = Client()
    client.force_login(reader)
    return client


def page_text(response):
    return response.content.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------- query parameters


@FUZZ
@given(q=any_text, page=any_text)
def test_search_takes_any_query(small_catalog, q, page):
    response = Client().get(reverse("catalog:search"), {"q": q, "page": page})
    assert response.status_code == 200
    html = page_text(response)
    # The query is echoed back escaped, never as markup.
    assert "<script>alert(1)</script>" not in html


@FUZZ
@given(q=any_text)
def test_suggest_takes_any_query_and_answers_json(small_catalog, q):
    response = Client().get(reverse("catalog:suggest"), {"q": q})
    assert response.status_code == 200
    results = response.json()["results"]
    assert isinstance(results, list) and len(results) <= 8
    for result in results:
        assert set(result) >= {"id", "title", "authors", "year", "goodreads_book_id", "cover_url", "url"}


BROWSE_KEYS = ["genre", "author", "year_min", "year_max", "min_rating", "language", "sort", "page", "per_page", "series"]


@FUZZ
@given(params=st.dictionaries(st.sampled_from(BROWSE_KEYS + ["q", "o", "x" * 300]), any_text, max_size=6))
def test_browse_takes_any_filters(small_catalog, params):
    for url in (reverse("catalog:book_list"), reverse("catalog:genre_detail", args=["fantasy"])):
        response = Client().get(url, params)
        assert response.status_code == 200, (url, params)


@FUZZ
@given(raw=st.text(st.sampled_from("%0123456789abcdefABCDEF&=+;genrpagsortyx_"), max_size=80))
def test_raw_query_strings_with_broken_percent_escapes(small_catalog, raw):
    client = Client()
    for url in (reverse("catalog:book_list"), reverse("catalog:search"), reverse("catalog:suggest")):
        assert client.get(f"{url}?{raw}").status_code == 200, (url, raw)


@pytest.mark.parametrize("value", ["fantasy", "no-such-genre", "'", "a" * 500, "\x00"])
def test_an_invalid_browse_filter_says_so(small_catalog, value):
    response = Client().get(reverse("catalog:book_list"), {"genre": value, "year_min": "soon"})
    assert response.status_code == 200
    html = page_text(response)
    assert "Published from" in html and "This filter was ignored" in html


@FUZZ
@given(page=any_text, params=st.dictionaries(st.sampled_from(["list", "sort", "stars"]), any_text, max_size=3))
def test_my_books_takes_any_sort_filter_and_page(small_catalog, reader, signed_in, page, params):
    response = signed_in.get(reverse("accounts:my_books"), {**params, "page": page})
    assert response.status_code == 200


@FUZZ
@given(page=any_text)
def test_every_paginated_page_takes_any_page_number(small_catalog, reader, signed_in, page):
    for book in small_catalog:
        set_rating(reader, book, 4)
    for url in (
        reverse("catalog:book_list"),
        reverse("catalog:search") + "?q=hobit",
        reverse("catalog:author_detail", args=["jrr-tolkien"]),
        reverse("accounts:my_books"),
        reverse("accounts:my_books") + "?list=want",
        reverse("recommender:for_you"),
    ):
        separator = "&" if "?" in url else "?"
        response = signed_in.get(url + separator + "page=" + page.replace("&", "%26").replace("#", "%23"))
        assert response.status_code == 200, (url, page)


@FUZZ
@given(pk=st.integers(min_value=0, max_value=10**30), suffix=st.sampled_from(["", "cover.svg", "rate/", "shelf/"]))
def test_any_book_number_is_a_page_or_a_404(small_catalog, signed_in, pk, suffix):
    url = f"/books/{pk}/{suffix}"
    response = signed_in.post(url, {"value": "3", "action": "add"}) if suffix.endswith("/") and suffix else signed_in.get(url)
    known = Book.objects.filter(pk=pk).exists() if pk < 2**63 else False
    assert response.status_code in ((200, 302) if known else (404,)), (url, response.status_code)


# ---------------------------------------------------------------------------------- rating and shelf POSTs


@FUZZ
@given(value=any_text, remove=st.one_of(st.none(), any_text), as_json=st.booleans())
def test_fetch_rating_posts_answer_json_and_store_only_valid_stars(small_catalog, reader, signed_in, value, remove, as_json):
    book = small_catalog[0]
    before = Rating.objects.filter(rater__user=reader, book=book).values_list("value", flat=True).first()
    data = {"value": value}
    if remove is not None:
        data["remove"] = remove
    headers = {"accept": "application/json"} if as_json else {}
    response = signed_in.post(reverse("accounts:rate", args=[book.pk]), data, headers=headers)
    after = Rating.objects.filter(rater__user=reader, book=book).values_list("value", flat=True).first()
    assert response.status_code in (200, 302, 400)
    if response.status_code == 400:
        assert after == before
        message = response.json()["error"] if as_json else page_text(response)
        assert "1 to 5" in message
    elif as_json:
        assert response.json()["rating"] == after
    # The book's summary always agrees with the ratings table.
    book.refresh_from_db()
    assert book.ratings_count == Rating.objects.filter(book=book).count()


@FUZZ
@given(action=any_text, next_url=any_text, as_json=st.booleans())
def test_shelf_posts_take_any_action_and_next(small_catalog, reader, signed_in, action, next_url, as_json):
    book = small_catalog[1]
    before = ShelfEntry.objects.filter(user=reader, book=book).exists()
    headers = {"accept": "application/json"} if as_json else {}
    response = signed_in.post(reverse("accounts:shelf", args=[book.pk]), {"action": action, "next": next_url}, headers=headers)
    after = ShelfEntry.objects.filter(user=reader, book=book).exists()
    if action in ("add", "remove"):
        assert response.status_code == (200 if as_json else 302)
        assert after == (action == "add")
        if not as_json:
            # Only a same-site path is followed; anything else goes back to the book.
            location = response["Location"]
            assert location == next_url or location == book.get_absolute_url()
            assert not location.startswith("//") and "://" not in location
    else:
        assert response.status_code == 400
        assert after == before


# ---------------------------------------------------------------------------------- forms


@FUZZ
@given(name=st.one_of(any_text, st.text(min_size=70, max_size=120)))
def test_profile_form_takes_any_display_name(reader, signed_in, name):
    reader.refresh_from_db()
    before = reader.display_name
    response = signed_in.post(reverse("accounts:profile"), {"display_name": name})
    reader.refresh_from_db()
    if response.status_code == 302:
        # The site drops NUL from every form field (bookrec_site.middleware.StripNulMiddleware).
        assert reader.display_name == name.replace("\x00", "").strip()
        assert len(reader.display_name) <= 80
    else:
        assert response.status_code == 400
        assert reader.display_name == before
        assert 'class="errorlist' in page_text(response)


@FUZZ
@given(password=any_text)
def test_delete_account_form_refuses_any_wrong_password(reader, signed_in, password):
    if password == PASSWORD:
        return
    response = signed_in.post(reverse("accounts:delete_account"), {"password": password})
    assert response.status_code == 400
    assert User.objects.filter(pk=reader.pk).exists()


@FUZZ
@given(email=any_text, password1=any_text, password2=any_text)
def test_sign_up_takes_any_input(db, email, password1, password2):
    cache.clear()
    count = User.objects.count()
    response = Client().post(reverse("account_signup"), {"email": email, "password1": password1, "password2": password2})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert User.objects.count() == count
        assert 'class="errorlist' in page_text(response) or "error" in page_text(response).lower()


@FUZZ
@given(login=any_text, password=any_text)
def test_log_in_takes_any_input(reader, login, password):
    cache.clear()
    client = Client()
    response = client.post(reverse("account_login"), {"login": login, "password": password})
    assert response.status_code in (200, 302)
    assert "_auth_user_id" not in client.session


@FUZZ
@given(params=st.dictionaries(
    st.sampled_from(["q", "p", "o", "hidden_from_recommendations__exact", "genres__id__exact", "language", "e", "all"]),
    any_text, max_size=4,
))
def test_admin_book_list_takes_any_search_and_filter(small_catalog, staff, params):
    client = Client()
    client.force_login(staff)
    response = client.get(reverse("admin:catalog_book_changelist"), params)
    # The admin answers a bad filter with a redirect to ?e=1, not an error.
    assert response.status_code in (200, 302)


# ---------------------------------------------------------------------------------- Goodreads upload

GOODREADS_HEADER = ["Book Id", "Title", "Author", "Author l-f", "Additional Authors", "ISBN", "ISBN13", "My Rating",
                    "Average Rating", "Publisher", "Binding", "Number of Pages", "Year Published",
                    "Original Publication Year", "Date Read", "Date Added", "Bookshelves", "Bookshelves with positions",
                    "Exclusive Shelf", "My Review", "Spoiler", "Private Notes", "Read Count", "Owned Copies"]


def goodreads_csv(rows, header=GOODREADS_HEADER, delimiter=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    for book_id, title, author, rating, shelf in rows:
        cells = dict.fromkeys(header, "")
        cells.update({"Book Id": book_id, "Title": title, "Author": author, "My Rating": rating,
                      "Exclusive Shelf": shelf, "ISBN": '=""', "ISBN13": '=""'})
        writer.writerow([cells[name] for name in header])
    return out.getvalue()


def upload(client, content, name="goodreads_library_export.csv"):
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    return client.post(reverse("accounts:goodreads_import"), {"export": SimpleUploadedFile(name, data, "text/csv")})


def reader_state(user):
    return (
        sorted(Rating.objects.filter(rater__user=user).values_list("book_id", "value")),
        sorted(ShelfEntry.objects.filter(user=user).values_list("book_id", flat=True)),
        ImportedBook.objects.filter(user=user).count(),
        GoodreadsImport.objects.filter(user=user).count(),
    )


goodreads_row = st.tuples(
    st.one_of(st.sampled_from(["5907", "34", "1885", "6969", "", "abc", "-1", "1e9"]), any_text),
    st.one_of(st.sampled_from(["The Hobbit", "Emma", "Pride and Prejudice"]), any_text),
    st.one_of(st.sampled_from(["J.R.R. Tolkien", "Jane Austen"]), any_text),
    st.one_of(st.sampled_from(["0", "1", "3", "5", "6", "-2", "4.5"]), any_text),
    st.one_of(st.sampled_from(["read", "to-read", "currently-reading"]), any_text),
)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=3000),
        st.lists(goodreads_row, max_size=8).map(goodreads_csv),
        st.lists(goodreads_row, min_size=1, max_size=4).map(lambda rows: goodreads_csv(rows, delimiter=";")),
        st.lists(goodreads_row, min_size=1, max_size=4).map(lambda rows: goodreads_csv(rows).encode("utf-16")),
        st.lists(goodreads_row, min_size=1, max_size=4).map(lambda rows: goodreads_csv(rows).encode("latin-1", "replace")),
        st.text(max_size=500),
    )
)
def test_goodreads_upload_takes_any_file(small_catalog, reader, signed_in, body):
    cache.clear()  # the hourly import limit
    before = reader_state(reader)
    response = upload(signed_in, body)
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        assert reader_state(reader) == before
        assert 'class="errorlist' in page_text(response)
    else:
        result = signed_in.get(response["Location"])
        assert result.status_code == 200
        assert GoodreadsImport.objects.filter(user=reader).count() == before[3] + 1


def test_goodreads_export_broken_near_the_end_writes_nothing(small_catalog, reader, signed_in):
    good = goodreads_csv([("5907", "The Hobbit", "J.R.R. Tolkien", "5", "read"), ("6969", "Emma", "Jane Austen", "0", "to-read")])
    broken = good.encode("utf-8") + "1885,Pride and Préjudice,Jane Austen,,,,,4\n".encode("latin-1")
    response = upload(signed_in, broken)
    assert response.status_code == 400
    assert "not UTF-8" in page_text(response)
    assert reader_state(reader) == ([], [], 0, 0)


def test_goodreads_export_in_utf16_gets_a_clear_error(small_catalog, reader, signed_in):
    body = goodreads_csv([("5907", "The Hobbit", "J.R.R. Tolkien", "5", "read")]).encode("utf-16")
    response = upload(signed_in, body)
    assert response.status_code == 400
    assert re.search(r"not (UTF-8|a CSV)", page_text(response))
    assert reader_state(reader) == ([], [], 0, 0)


def test_goodreads_export_with_an_enormous_field_gets_a_clear_error(small_catalog, reader, signed_in):
    body = goodreads_csv([("5907", "The Hobbit", "J.R.R. Tolkien", "5", "read"),
                          ("6969", "E" * 400_000, "Jane Austen", "4", "read")])
    response = upload(signed_in, body)
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        assert "could not be read near line" in page_text(response)
        assert reader_state(reader) == ([], [], 0, 0)


def test_goodreads_export_of_a_big_library_imports(small_catalog, reader, signed_in):
    # 3,000 books: a big but ordinary library. All but one are "not in our catalog".
    rows = [("5907", "The Hobbit", "J.R.R. Tolkien", "5", "read")]
    rows += [(str(10_000_000 + n), f"Unknown Book {n}", "Nobody", "3", "read") for n in range(3_000)]
    response = upload(signed_in, goodreads_csv(rows))
    assert response.status_code == 302
    result = signed_in.get(response["Location"])
    assert "Not in our catalog" in page_text(result)
    assert Rating.objects.get(rater__user=reader).book.title == "The Hobbit"


def test_goodreads_import_query_count_does_not_grow_with_the_file(small_catalog, reader, signed_in,
                                                                  django_assert_max_num_queries):
    rows = [(str(10_000_000 + n), f"Unknown Book {n}", f"Nobody {n}", "3", "read") for n in range(1_000)]
    body = goodreads_csv(rows)
    with django_assert_max_num_queries(100):
        response = upload(signed_in, body)
    assert response.status_code == 302


def test_goodreads_export_with_only_some_required_columns(small_catalog, reader, signed_in):
    header = [name for name in GOODREADS_HEADER if name not in ("My Rating", "Exclusive Shelf")]
    out = io.StringIO()
    csv.writer(out).writerows([header, ["5907", "The Hobbit", "J.R.R. Tolkien"] + [""] * (len(header) - 3)])
    response = upload(signed_in, out.getvalue())
    assert response.status_code == 400
    html = page_text(response)
    assert "My Rating" in html and "Exclusive Shelf" in html
    assert reader_state(reader) == ([], [], 0, 0)


# ---------------------------------------------------------------------------------- import_goodbooks

BOOKS_HEADER = ("book_id,goodreads_book_id,best_book_id,work_id,books_count,isbn,isbn13,authors,original_publication_year,"
                "original_title,title,language_code,average_rating,ratings_count,work_ratings_count,"
                "work_text_reviews_count,ratings_1,ratings_2,ratings_3,ratings_4,ratings_5,image_url,small_image_url")


def books_row(book_id, title, authors="Some Author"):
    return (f'{book_id},{1000 + book_id},{1000 + book_id},{2000 + book_id},1,,,"{authors}",2001.0,"{title}","{title}",eng,'
            f"4.0,10,10,1,1,1,2,3,3,https://images.example/{book_id}.jpg,https://images.example/{book_id}s.jpg")


def write_goodbooks(folder, books, ratings=None, encoding="utf-8"):
    folder.mkdir(exist_ok=True)
    (folder / "books.csv").write_bytes(books.encode(encoding) if isinstance(books, str) else books)
    if ratings is not None:
        (folder / "ratings.csv").write_bytes(ratings.encode(encoding) if isinstance(ratings, str) else ratings)
    return folder


def import_goodbooks(folder, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_goodbooks", str(folder), *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


GOOD_BOOKS = "\n".join([BOOKS_HEADER, books_row(1, "Alpha"), books_row(2, "Beta"), books_row(3, "Gamma")]) + "\n"


def nothing_written():
    return Book.objects.count() == 0 and Author.objects.count() == 0 and Rating.objects.count() == 0 and Rater.objects.count() == 0


@pytest.mark.django_db
def test_goodbooks_semicolon_file_stops_before_writing(tmp_path):
    folder = write_goodbooks(tmp_path / "semi", GOOD_BOOKS.replace(",", ";"))
    with pytest.raises(CommandError, match="books.csv has the wrong header"):
        import_goodbooks(folder)
    assert nothing_written()


@pytest.mark.django_db
def test_goodbooks_ratings_with_a_wrong_delimiter_stop_before_the_books_are_written(tmp_path):
    folder = write_goodbooks(tmp_path / "semi", GOOD_BOOKS, "user_id;book_id;rating\n1;1;5\n")
    with pytest.raises(CommandError, match="ratings.csv has the wrong header"):
        import_goodbooks(folder)
    assert nothing_written()


@pytest.mark.django_db
def test_goodbooks_header_only_ratings_import_the_books(tmp_path):
    folder = write_goodbooks(tmp_path / "hdr", GOOD_BOOKS, "user_id,book_id,rating\n")
    import_goodbooks(folder)
    assert Book.objects.count() == 3 and Rating.objects.count() == 0


@pytest.mark.django_db
def test_goodbooks_latin1_rows_are_reported_with_their_line_and_not_stored_mangled(tmp_path):
    books = "\n".join([BOOKS_HEADER, books_row(1, "Alpha"), books_row(2, "Les Misérables", "Victor Hugo")]) + "\n"
    folder = write_goodbooks(tmp_path / "latin1", books, encoding="latin-1")
    output = import_goodbooks(folder)
    assert re.search(r"books\.csv.*line 3.*encoding", output, re.I | re.S), output
    titles = list(Book.objects.values_list("title", flat=True))
    assert "Alpha" in titles
    assert not any("\ufffd" in title or "\udce9" in title or "Ã" in title for title in titles)
    names = list(Author.objects.values_list("name", flat=True))
    assert not any("\ufffd" in name or "\udce9" in name for name in names)


@pytest.mark.django_db
def test_goodbooks_bom_on_the_ratings_file_is_fine(tmp_path):
    folder = write_goodbooks(tmp_path / "bom", GOOD_BOOKS, "\ufeffuser_id,book_id,rating\n1,1,5\n2,2,4\n")
    import_goodbooks(folder)
    assert Rating.objects.count() == 2


@pytest.mark.django_db
def test_goodbooks_duplicate_rating_rows_keep_one_rating(tmp_path):
    ratings = "user_id,book_id,rating\n1,1,5\n1,1,5\n1,1,3\n2,1,4\n2,2,4\n2,2,4\n"
    folder = write_goodbooks(tmp_path / "dup", GOOD_BOOKS, ratings)
    import_goodbooks(folder)
    assert Rating.objects.count() == 3
    assert Rater.objects.count() == 2
    book = Book.objects.get(title="Alpha")
    assert book.ratings_count == 2
    import_goodbooks(folder)
    assert Rating.objects.count() == 3


@pytest.mark.django_db
def test_goodbooks_duplicate_book_rows_make_one_book(tmp_path):
    books = "\n".join([BOOKS_HEADER, books_row(1, "Alpha"), books_row(1, "Alpha"), books_row(2, "Beta")]) + "\n"
    folder = write_goodbooks(tmp_path / "dupbooks", books)
    output = import_goodbooks(folder)
    assert Book.objects.filter(title="Alpha").count() == 1
    assert Book.objects.count() == 2
    assert "line 3" in output


@pytest.mark.django_db
def test_goodbooks_enormous_field_is_a_clear_error_not_a_traceback(tmp_path):
    books = "\n".join([BOOKS_HEADER, books_row(1, "Alpha"), books_row(2, "B" * 300_000)]) + "\n"
    folder = write_goodbooks(tmp_path / "huge", books)
    with pytest.raises(CommandError, match="books.csv line 3"):
        import_goodbooks(folder)
    assert nothing_written()


@pytest.mark.django_db
def test_goodbooks_empty_ratings_file_is_a_clear_error(tmp_path):
    folder = write_goodbooks(tmp_path / "empty", GOOD_BOOKS, "")
    with pytest.raises(CommandError, match="ratings.csv is empty"):
        import_goodbooks(folder)
    assert nothing_written()


@pytest.mark.django_db
def test_goodbooks_binary_file_is_refused(tmp_path):
    folder = write_goodbooks(tmp_path / "bin", bytes(range(256)) * 64)
    with pytest.raises(CommandError, match="books.csv"):
        import_goodbooks(folder)
    assert nothing_written()
