"""Reviews through the Goodreads round trip: a reviewed book is in the export, Goodreads' HTML becomes plain text,
and an imported review longer than the site's limit can still be edited."""

from django.urls import reverse

from accounts.models import Review, ShelfEntry
from accounts.tests.conftest import make_book
from accounts.tests.test_goodreads_round_trip import HEADER, read_csv, upload_text


def exported(client):
    response = client.get(reverse("accounts:export_csv"))
    assert response.status_code == 200
    return read_csv(response.content.decode())[1]


def test_a_review_puts_an_unshelved_book_on_read_and_in_the_export(reader_client, reader, books):
    unshelved, wanted = books[0], books[1]
    reader_client.post(reverse("accounts:shelf", args=[wanted.pk]), {"shelf": "to-read"})
    for book, text in ((unshelved, "Happy families are all alike."), (wanted, "Looking forward to it.")):
        response = reader_client.post(reverse("accounts:write_review", args=[book.pk]), {"text": text})
        assert response.status_code == 302
    entries = {e.book_id: e for e in ShelfEntry.objects.filter(user=reader)}
    read = entries[unshelved.pk]
    assert (read.shelf, read.date_read, read.read_count) == ("read", None, 1)
    assert entries[wanted.pk].shelf == "to-read"  # a shelved book stays where the reader put it
    rows = {row["Title"]: row for row in exported(reader_client)}
    assert set(rows) == {"Anna Karenina", "Beloved"}
    assert (rows["Anna Karenina"]["My Review"], rows["Anna Karenina"]["Exclusive Shelf"]) == (
        "Happy families are all alike.", "read")
    assert (rows["Anna Karenina"]["Date Read"], rows["Anna Karenina"]["My Rating"]) == ("", "0")
    assert rows["Beloved"]["My Review"] == "Looking forward to it."


DNF_ROW = (
    '6759,Infinite Jest,David Foster Wallace,"Wallace, David Foster",,"=""0316066524""","=""9780316066525""",0,3.82,'
    'Little Brown,Paperback,1079,2006,1996,,2022/03/05,"did-not-finish, chunksters","did-not-finish (#2), '
    'chunksters (#5)",did-not-finish,Stopped at page 300.,,borrowed,0,0\n'
)


def test_a_book_on_a_custom_goodreads_shelf_exports_the_review_it_has_now(reader_client, reader, db):
    jest = make_book("Infinite Jest", "David Foster Wallace", goodreads_book_id=6759)
    gone = make_book("Gone Girl", "Gillian Flynn", goodreads_book_id=19288043)
    upload_text(reader_client, HEADER + DNF_ROW + "19288043,Gone Girl,Gillian Flynn,,,,,0,,,,,,,,,,,to-read,,,,0,0\n")
    # A book the import shelved and the reader took off on BookRec is not exported: they removed it.
    reader_client.post(reverse("accounts:shelf", args=[gone.pk]), {"action": "remove"})
    assert not ShelfEntry.objects.filter(user=reader).exists()
    review = Review.objects.get(user=reader, book=jest)
    assert reader_client.post(reverse("accounts:edit_review", args=[review.pk]), {"text": "Gave up. Twice."}).status_code == 302
    (row,) = exported(reader_client)
    assert (row["Book Id"], row["Exclusive Shelf"], row["My Review"], row["My Rating"]) == (
        "6759", "did-not-finish", "Gave up. Twice.", "0")
    assert (row["Bookshelves"], row["Private Notes"], row["ISBN13"]) == (
        "did-not-finish, chunksters", "borrowed", '="9780316066525"')
    # The review deleted on BookRec: the book is still exported, without it.
    reader_client.post(reverse("accounts:delete_review", args=[review.pk]))
    (row,) = exported(reader_client)
    assert (row["Title"], row["My Review"]) == ("Infinite Jest", "")
    # Rated on BookRec, it is on Read and exported once, from there.
    reader_client.post(reverse("accounts:rate", args=[jest.pk]), {"value": "2"})
    (row,) = exported(reader_client)
    assert (row["Exclusive Shelf"], row["My Rating"], row["Bookshelves"]) == ("read", "2", "chunksters")


def test_goodreads_html_in_a_review_shows_as_paragraphs_without_tags(reader_client, reader, other_reader, db):
    jest = make_book("Infinite Jest", "David Foster Wallace", goodreads_book_id=6759)
    review = "First part.<br/><br/>Second, <i>x</i> and<BR />more.<br>Last."
    upload_text(reader_client, HEADER + DNF_ROW.replace("Stopped at page 300.", f'"{review}"'))
    assert Review.objects.get(user=reader).text == "First part.\n\nSecond, x and\nmore.\nLast."
    page = reader_client.get(jest.get_absolute_url()).content.decode()
    assert "<p>First part.</p>" in page
    assert "<p>Second, x and<br>more.<br>Last.</p>" in page
    assert "&lt;br" not in page and "&lt;i&gt;" not in page
    # The export writes the stored text: newlines in a quoted cell.
    (row,) = exported(reader_client)
    assert row["My Review"] == "First part.\n\nSecond, x and\nmore.\nLast."


def test_an_imported_review_longer_than_the_limit_can_be_edited(reader_client, reader, db):
    jest = make_book("Infinite Jest", "David Foster Wallace", goodreads_book_id=6759)
    long_review = "word " * 1400  # 7,000 characters, 6,999 stripped
    upload_text(reader_client, HEADER + DNF_ROW.replace("Stopped at page 300.", long_review))
    review = Review.objects.get(user=reader, book=jest)
    assert len(review.text) == 6999
    edit_url = reverse("accounts:edit_review", args=[review.pk])
    assert "Imported at 6,999 characters" in reader_client.get(edit_url).content.decode()
    edited = review.text.replace("word", "Word", 1)
    assert reader_client.post(edit_url, {"text": edited}).status_code == 302
    assert Review.objects.get(pk=review.pk).text == edited
    # Shorter is fine, and then that is its length: longer than the stored review is refused with the text kept.
    assert reader_client.post(edit_url, {"text": edited[:5999]}).status_code == 302
    response = reader_client.post(edit_url, {"text": edited[:5999] + "!"})
    assert response.status_code == 400
    assert "A review is at most 5,999 characters; yours has 6,000. Please shorten it by 1." in response.content.decode()
    assert edited[:5999] + "!" in response.content.decode()
    assert Review.objects.get(pk=review.pk).text == edited[:5999]
    # A new review keeps the site's limit.
    other = make_book("The Pale King", "David Foster Wallace")
    response = reader_client.post(reverse("accounts:write_review", args=[other.pk]), {"text": "y" * 5001})
    assert response.status_code == 400
    assert "A review is at most 5,000 characters; yours has 5,001." in response.content.decode()
