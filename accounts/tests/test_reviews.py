"""Reviews: one per reader and book, shown on the book page, edited and deleted by their writer, hidden by staff."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Review


def write(client, book, text):
    return client.post(reverse("accounts:write_review", args=[book.pk]), {"text": text})


def test_write_review_shows_on_book_page_escaped_with_display_name(reader_client, reader, other_reader, book):
    response = write(reader_client, book, "  <script>alert(1)</script> A <b>long</b> novel.\n\nWorth it.  ")
    assert response.status_code == 302
    assert response["Location"] == book.get_absolute_url() + "#your-review"
    review = Review.objects.get(user=reader, book=book)
    assert review.text == "<script>alert(1)</script> A <b>long</b> novel.\n\nWorth it."

    stranger = Client()
    stranger.force_login(other_reader)
    page = stranger.get(book.get_absolute_url()).content.decode()
    assert "Rita" in page  # the reviewer's display name
    assert "&lt;script&gt;alert(1)&lt;/script&gt; A &lt;b&gt;long&lt;/b&gt; novel." in page
    assert "<script>alert(1)" not in page
    assert "<p>Worth it.</p>" in page  # paragraphs kept
    # An anonymous visitor sees it too, but no form.
    anonymous = Client().get(book.get_absolute_url()).content.decode()
    assert "Worth it." in anonymous
    assert "Log in</a> to write a review" in anonymous


def test_reviewer_without_display_name_is_not_shown_by_email(client, other_reader, book, django_user_model):
    writer = django_user_model.objects.create_user(email="secret.name@example.com", password="x-long-password-1")
    client.force_login(writer)
    write(client, book, "Fine.")
    client.force_login(other_reader)
    page = client.get(book.get_absolute_url()).content.decode()
    assert "Fine." in page
    assert "secret.name" not in page
    assert "A reader" in page


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "A review needs some text"),
        ("   \n  ", "A review needs some text"),
        ("x" * 5001, "A review is at most 5,000 characters; yours has 5,001. Please shorten it by 1."),
    ],
)
def test_blank_or_long_review_is_refused_with_the_text_kept(reader_client, book, text, message):
    response = write(reader_client, book, text)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Review.objects.exists()
    if text.strip():
        assert text in response.content.decode()  # nothing the reader typed is lost


def test_review_of_exactly_the_limit_is_accepted(reader_client, reader, book):
    assert write(reader_client, book, "y" * 5000).status_code == 302
    assert len(Review.objects.get(user=reader).text) == 5000


def test_second_write_edits_the_one_review(reader_client, reader, book):
    write(reader_client, book, "First thoughts.")
    assert write(reader_client, book, "Second thoughts.").status_code == 302
    assert list(Review.objects.filter(user=reader).values_list("text", flat=True)) == ["Second thoughts."]
    # The write page of a reviewed book leads to the edit page.
    response = reader_client.get(reverse("accounts:write_review", args=[book.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:edit_review", args=[Review.objects.get().pk])


def test_writer_edits_and_deletes(reader_client, reader, book):
    write(reader_client, book, "Draft.")
    review = Review.objects.get(user=reader)
    edit_url = reverse("accounts:edit_review", args=[review.pk])
    page = reader_client.get(edit_url)
    assert page.status_code == 200
    assert "Draft." in page.content.decode()
    assert reader_client.post(edit_url, {"text": ""}).status_code == 400
    assert Review.objects.get(pk=review.pk).text == "Draft."
    assert reader_client.post(edit_url, {"text": "Final."}).status_code == 302
    assert Review.objects.get(pk=review.pk).text == "Final."
    response = reader_client.post(reverse("accounts:delete_review", args=[review.pk]))
    assert response.status_code == 302
    assert not Review.objects.filter(pk=review.pk).exists()


def test_others_cannot_edit_or_delete(client, reader, other_reader, book):
    review = Review.objects.create(user=reader, book=book, text="Mine.")
    client.force_login(other_reader)
    assert client.get(reverse("accounts:edit_review", args=[review.pk])).status_code == 404
    assert client.post(reverse("accounts:edit_review", args=[review.pk]), {"text": "Hacked"}).status_code == 404
    assert client.post(reverse("accounts:delete_review", args=[review.pk])).status_code == 404
    assert Review.objects.get(pk=review.pk).text == "Mine."
    # Anonymous visitors are sent to log in, and nothing changes.
    anonymous = Client()
    response = anonymous.post(reverse("accounts:delete_review", args=[review.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = anonymous.post(reverse("accounts:write_review", args=[book.pk]), {"text": "Spam"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Review.objects.count() == 1


def test_delete_is_post_only(reader_client, reader, book):
    review = Review.objects.create(user=reader, book=book, text="Mine.")
    assert reader_client.get(reverse("accounts:delete_review", args=[review.pk])).status_code == 405
    assert Review.objects.filter(pk=review.pk).exists()


def test_review_of_missing_book_is_404(reader_client):
    assert reader_client.post(reverse("accounts:write_review", args=[999999]), {"text": "x"}).status_code == 404


def test_staff_hide_a_review_in_the_admin(staff_client, reader, other_reader, book):
    review = Review.objects.create(user=reader, book=book, text="Spoilers everywhere.")
    changelist = reverse("admin:accounts_review_changelist")
    assert "Spoilers everywhere." in staff_client.get(changelist).content.decode()
    response = staff_client.post(changelist, {"action": "hide_reviews", "_selected_action": [review.pk]})
    assert response.status_code == 302
    assert Review.objects.get(pk=review.pk).hidden

    viewer = Client()
    viewer.force_login(other_reader)
    assert "Spoilers everywhere." not in viewer.get(book.get_absolute_url()).content.decode()
    assert "Spoilers everywhere." not in Client().get(book.get_absolute_url()).content.decode()
    # The writer still sees it, with a note saying why others don't.
    writer = Client()
    writer.force_login(reader)
    page = writer.get(book.get_absolute_url()).content.decode()
    assert "Spoilers everywhere." in page
    assert "A moderator has hidden this review" in page

    # The change form can also unhide it; the text is not staff's to edit.
    change = reverse("admin:accounts_review_change", args=[review.pk])
    response = staff_client.post(change, {"hidden": "", "text": "Rewritten by staff"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert not review.hidden and review.text == "Spoilers everywhere."


def test_book_page_lists_reviews_in_constant_queries(client, other_reader, book, django_user_model, django_assert_max_num_queries):
    for n in range(5):
        writer = django_user_model.objects.create_user(email=f"w{n}@example.com", password="x-long-password-1", display_name=f"W{n}")
        Review.objects.create(user=writer, book=book, text=f"Review {n}")
    client.force_login(other_reader)
    client.get(book.get_absolute_url())  # warm up session and model caches
    with django_assert_max_num_queries(20) as captured:
        page = client.get(book.get_absolute_url()).content.decode()
    queries = len(captured)
    assert all(f"W{n}" in page for n in range(5))
    for n in range(5, 15):
        writer = django_user_model.objects.create_user(email=f"w{n}@example.com", password="x-long-password-1")
        Review.objects.create(user=writer, book=book, text=f"Review {n}")
    with django_assert_max_num_queries(queries):
        client.get(book.get_absolute_url())


def test_reviews_are_in_the_json_export(reader_client, reader, other_reader, books):
    Review.objects.create(user=reader, book=books[1], text="Haunting.")
    Review.objects.create(user=reader, book=books[0], text="Long.", hidden=True)
    Review.objects.create(user=other_reader, book=books[0], text="Not yours.")
    data = reader_client.get(reverse("accounts:export_json")).json()
    assert [(r["title"], r["text"], r["hidden_by_staff"]) for r in data["reviews"]] == [
        ("Anna Karenina", "Long.", True),
        ("Beloved", "Haunting.", False),
    ]
    assert data["reviews"][0]["created"] and data["reviews"][0]["updated"]


def test_account_deletion_removes_reviews(reader_client, reader, other_reader, book):
    Review.objects.create(user=reader, book=book, text="Gone soon.")
    Review.objects.create(user=other_reader, book=book, text="Stays.")
    response = reader_client.post(reverse("accounts:delete_account"), {"password": "correct-horse-battery"})
    assert response.status_code == 302
    assert list(Review.objects.values_list("text", flat=True)) == ["Stays."]
    assert "Gone soon." not in Client().get(book.get_absolute_url()).content.decode()



def test_visitors_see_review_changes_at_once_despite_the_page_cache(reader_client, staff, reader, book):
    staff_client = Client()
    staff_client.force_login(staff)
    visitor = Client()
    assert "No reviews yet." in visitor.get(book.get_absolute_url()).content.decode()  # now cached for a minute
    write(reader_client, book, "Fresh words.")
    assert "Fresh words." in visitor.get(book.get_absolute_url()).content.decode()
    review = Review.objects.get(user=reader)
    reader_client.post(reverse("accounts:edit_review", args=[review.pk]), {"text": "Edited words."})
    assert "Edited words." in visitor.get(book.get_absolute_url()).content.decode()
    staff_client.post(reverse("admin:accounts_review_changelist"), {"action": "hide_reviews", "_selected_action": [review.pk]})
    assert "Edited words." not in visitor.get(book.get_absolute_url()).content.decode()
    staff_client.post(reverse("admin:accounts_review_change", args=[review.pk]), {"hidden": "on"})
    staff_client.post(reverse("admin:accounts_review_change", args=[review.pk]), {"hidden": ""})
    assert "Edited words." in visitor.get(book.get_absolute_url()).content.decode()
    reader_client.post(reverse("accounts:delete_review", args=[review.pk]))
    assert "Edited words." not in visitor.get(book.get_absolute_url()).content.decode()


def test_merging_duplicate_books_keeps_each_readers_latest_review(reader, other_reader, books):
    from catalog.merge import merge_books

    keep, dupe = books[0], books[1]
    Review.objects.create(user=reader, book=keep, text="Older, on the kept book.")
    Review.objects.create(user=reader, book=dupe, text="Newer, on the duplicate.")
    Review.objects.create(user=other_reader, book=dupe, text="Only on the duplicate.")
    merge_books(keep, [dupe])
    assert sorted(Review.objects.values_list("user__email", "book_id", "text")) == [
        ("other@example.com", keep.pk, "Only on the duplicate."),
        ("reader@example.com", keep.pk, "Newer, on the duplicate."),
    ]
