"""The want-to-read shelf: POST /books/<pk>/shelf/."""

from django.urls import reverse

from accounts.models import ShelfEntry


def test_add_and_remove(reader_client, reader, book):
    url = reverse("accounts:shelf", args=[book.pk])
    response = reader_client.post(url, {"action": "add"})
    assert response.status_code == 302
    assert response["Location"] == book.get_absolute_url()
    assert ShelfEntry.objects.filter(user=reader, book=book).exists()
    reader_client.post(url, {"action": "remove"})
    assert not ShelfEntry.objects.filter(user=reader, book=book).exists()


def test_adding_twice_keeps_one_entry(reader_client, reader, book):
    url = reverse("accounts:shelf", args=[book.pk])
    reader_client.post(url, {"action": "add"})
    reader_client.post(url, {"action": "add"})
    assert ShelfEntry.objects.filter(user=reader).count() == 1


def test_fetch_gets_json(reader_client, reader, book):
    response = reader_client.post(
        reverse("accounts:shelf", args=[book.pk]), {"action": "add"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["shelved"] is True
    assert response.json()["rating"] is None


def test_bad_action_is_400_and_nothing_changes(reader_client, reader, book):
    ShelfEntry.objects.create(user=reader, book=book)
    response = reader_client.post(reverse("accounts:shelf", args=[book.pk]), {"action": "delete-everything"})
    assert response.status_code == 400
    assert ShelfEntry.objects.filter(user=reader, book=book).exists()


def test_unknown_book_is_404(reader_client, books):
    response = reader_client.post(reverse("accounts:shelf", args=[999999]), {"action": "add"})
    assert response.status_code == 404
    assert not ShelfEntry.objects.exists()


def test_get_is_405(reader_client, book):
    assert reader_client.get(reverse("accounts:shelf", args=[book.pk])).status_code == 405


def test_anonymous_is_sent_to_log_in(client, book):
    response = client.post(reverse("accounts:shelf", args=[book.pk]), {"action": "add"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not ShelfEntry.objects.exists()


def test_removing_only_touches_my_shelf(reader_client, reader, other_reader, book):
    ShelfEntry.objects.create(user=other_reader, book=book)
    reader_client.post(reverse("accounts:shelf", args=[book.pk]), {"action": "remove"})
    assert ShelfEntry.objects.filter(user=other_reader, book=book).exists()
