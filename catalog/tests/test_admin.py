import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from accounts.models import ImportedBook, Rater, Rating, ShelfEntry
from accounts.ratings import set_rating
from catalog.merge import Moved, merge_books
from catalog.models import Author, Book, BookAuthor, BookRedirect, Genre


def test_book_changelist_search_and_filters(staff_client, catalog, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = staff_client.get("/admin/catalog/book/")
    assert response.status_code == 200
    for params, expected in [
        ({"q": "tolkien"}, {"The Lord of the Rings", "The Fellowship of the Ring"}),
        ({"q": "9780000000002"}, {"Dune"}),
        ({"genres__id__exact": Genre.objects.get(slug="romance").pk}, {"Pride and Prejudice", "Love in the Time of Cholera"}),
        ({"language": "spa"}, {"One Hundred Years of Solitude"}),
        ({"decade": "1950"}, {"The Lord of the Rings", "The Fellowship of the Ring", "Lord of the Flies"}),
        ({"decade": "before-1900"}, {"Pride and Prejudice"}),
    ]:
        if "q" in params and params["q"].isdigit():
            Book.objects.filter(pk=catalog["dune"].pk).update(isbn13=params["q"])
        response = staff_client.get("/admin/catalog/book/", params)
        assert response.status_code == 200
        assert {book.title for book in response.context["cl"].result_list} == expected


def test_book_change_page_and_rating_summary_is_read_only(staff_client, catalog):
    book = catalog["dune"]
    response = staff_client.get(f"/admin/catalog/book/{book.pk}/change/")
    assert response.status_code == 200
    assert "ratings_count" not in response.context["adminform"].form.fields
    assert "genres" in response.context["adminform"].form.fields


def test_readers_cannot_use_the_admin(reader_client, catalog):
    assert reader_client.get("/admin/catalog/book/").status_code == 302


def test_hide_and_restore_actions(staff_client, catalog):
    ids = [catalog["dune"].pk, catalog["pride"].pk]
    staff_client.post("/admin/catalog/book/", {"action": "hide_from_recommendations", ACTION_CHECKBOX_NAME: ids})
    assert set(Book.objects.filter(hidden_from_recommendations=True).values_list("pk", flat=True)) == set(ids)
    staff_client.post("/admin/catalog/book/", {"action": "restore_to_recommendations", ACTION_CHECKBOX_NAME: ids[:1]})
    assert list(Book.objects.filter(hidden_from_recommendations=True).values_list("pk", flat=True)) == ids[1:]


@pytest.fixture
def duplicates(make_book, reader, other_reader, staff):
    keep = make_book("Dune", ["Frank Herbert"], ["Science Fiction"])
    dupe = make_book("Dune (Deluxe Edition)", ["Frank Herbert"], ["Classics"], isbn13="9780441013593", goodreads_book_id=234225)
    third = make_book("Dune.", ["Frank Herbert", "Brian Herbert"])
    return keep, dupe, third


def test_merge_moves_ratings_and_shelves_without_loss_or_double(staff_client, duplicates, reader, other_reader, staff):
    keep, dupe, third = duplicates
    set_rating(reader, keep, 2)
    set_rating(reader, dupe, 5)  # rated both: the later rating (5) wins
    set_rating(other_reader, dupe, 4)  # rated only the duplicate: moves
    set_rating(staff, third, 1)
    dataset_reader = Rater.objects.create(source="goodbooks", external_id="42")
    Rating.objects.create(rater=dataset_reader, book=third, value=3)
    # Rated books are on Read; the reader's third book and the other reader's kept one are on want-to-read.
    ShelfEntry.objects.create(user=reader, book=third)
    ShelfEntry.objects.create(user=other_reader, book=keep)

    ids = [keep.pk, dupe.pk, third.pk]
    confirm = staff_client.post("/admin/catalog/book/", {"action": "merge_duplicates", ACTION_CHECKBOX_NAME: ids})
    assert confirm.status_code == 200 and b"Keep which book?" in confirm.content
    assert Book.objects.count() == 3  # nothing happens before the confirmation

    response = staff_client.post("/admin/catalog/book/", {
        "action": "merge_duplicates", ACTION_CHECKBOX_NAME: ids, "confirm_merge": "1", "keep": keep.pk,
    })
    assert response.status_code == 302
    assert list(Book.objects.values_list("pk", flat=True)) == [keep.pk]
    assert sorted((email or "dataset", value) for email, value in Rating.objects.values_list("rater__user__email", "value")) == [
        ("dataset", 3), ("other@example.com", 4), ("reader@example.com", 5), ("staff@example.com", 1)]
    # One entry per reader; the shelf furthest along wins (the other reader read the duplicate).
    assert sorted(ShelfEntry.objects.values_list("user__email", "book_id", "shelf")) == [
        ("other@example.com", keep.pk, "read"), ("reader@example.com", keep.pk, "read"), ("staff@example.com", keep.pk, "read")]
    keep.refresh_from_db()
    assert (keep.ratings_count, keep.ratings_5, keep.ratings_4, keep.ratings_3, keep.ratings_1) == (4, 1, 1, 1, 1)
    assert keep.average_rating == 3.25
    # What the duplicates knew is kept: identifiers, genres and the extra author.
    assert (keep.isbn13, keep.goodreads_book_id) == ("9780441013593", 234225)
    assert set(keep.genres.values_list("name", flat=True)) == {"Science Fiction", "Classics"}
    assert keep.search_text == "dune frank herbert brian herbert"


def test_merge_moves_every_related_row_and_redirects_the_old_pages(client, duplicates, reader, other_reader):
    keep, dupe, third = duplicates
    # Import records point at the book with a hidden relation (related_name="+"): they move all the same.
    ImportedBook.objects.create(user=reader, book=dupe, rating=4)
    ImportedBook.objects.create(user=other_reader, book=keep, rating=3)
    ImportedBook.objects.create(user=other_reader, book=third, rating=1)  # clashes: the kept book's stays
    first = merge_books(keep, [dupe])
    assert first.of(ImportedBook) == Moved(moved=1, dropped=0)
    second = merge_books(keep, [third])
    assert second.of(ImportedBook) == Moved(moved=0, dropped=1)
    assert sorted(ImportedBook.objects.values_list("user__email", "book_id", "rating")) == [
        ("other@example.com", keep.pk, 3), ("reader@example.com", keep.pk, 4)]
    # Authors from the duplicates follow the kept book's own, with distinct positions.
    assert list(BookAuthor.objects.filter(book=keep).values_list("author__name", "position")) == [
        ("Frank Herbert", 0), ("Brian Herbert", 1)]

    for old in (dupe, third):
        response = client.get(f"/books/{old.pk}/")
        assert response.status_code == 301 and response["Location"] == f"/books/{keep.pk}/"
    assert client.get("/books/999999/").status_code == 404

    # Merging the survivor again carries the older redirects along: no chain of hops, no dead link.
    final = Book.objects.create(title="Dune (final)")
    merge_books(final, [keep])
    assert set(BookRedirect.objects.values_list("old_id", "book_id")) == {
        (dupe.pk, final.pk), (third.pk, final.pk), (keep.pk, final.pk)}
    assert client.get(f"/books/{dupe.pk}/")["Location"] == f"/books/{final.pk}/"


def test_merge_needs_two_books(staff_client, duplicates):
    keep = duplicates[0]
    response = staff_client.post("/admin/catalog/book/", {"action": "merge_duplicates", ACTION_CHECKBOX_NAME: [keep.pk]},
                                 follow=True)
    assert "Select at least two books to merge." in response.content.decode()
    assert Book.objects.count() == 3


def test_merge_rejects_a_book_outside_the_selection(staff_client, duplicates, make_book):
    keep, dupe, _ = duplicates
    stranger = make_book("Unrelated")
    response = staff_client.post("/admin/catalog/book/", {
        "action": "merge_duplicates", ACTION_CHECKBOX_NAME: [keep.pk, dupe.pk], "confirm_merge": "1", "keep": stranger.pk,
    })
    assert response.status_code == 200  # the form again, with an error
    assert Book.objects.count() == 4


def test_author_and_genre_admin_show_book_counts(staff_client, catalog, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = staff_client.get("/admin/catalog/author/")
    counts = {author.name: author.book_count for author in response.context["cl"].result_list}
    assert counts["J.R.R. Tolkien"] == 2 and counts["Frank Herbert"] == 1
    response = staff_client.get("/admin/catalog/genre/")
    counts = {genre.name: genre.book_count for genre in response.context["cl"].result_list}
    assert counts["Fantasy"] == 6 and counts["Romance"] == 2
    # autocomplete endpoints used by the book form
    assert staff_client.get("/admin/autocomplete/", {"app_label": "catalog", "model_name": "book",
                                                     "field_name": "genres", "term": "fan"}).status_code == 200
    assert Author.objects.count() == 8


def test_renaming_an_author_makes_the_new_name_searchable(staff_client, make_book):
    book = make_book("One Hundred Years of Solitude", authors=("Gabriel Garcia Marquez",))
    author = book.authors.get()
    response = staff_client.post(
        f"/admin/catalog/author/{author.pk}/change/", {"name": "Gabriel García Márquez Zeta", "slug": author.slug}
    )
    assert response.status_code == 302
    book.refresh_from_db()
    assert "zeta" in book.search_text.split()
