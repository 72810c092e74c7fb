"""The profile page: display name and links to the account's other pages."""

from django.urls import reverse

from accounts.models import ShelfEntry


def test_profile_links(reader_client):
    html = reader_client.get(reverse("accounts:profile")).content.decode()
    for name in ("account_email", "account_change_password", "accounts:export_json", "accounts:export_csv", "accounts:delete_account"):
        assert reverse(name) in html


def test_set_display_name(reader_client, reader):
    response = reader_client.post(reverse("accounts:profile"), {"display_name": "  Margarita  "})
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.display_name == "Margarita"
    assert "Margarita" in reader_client.get(reverse("accounts:profile")).content.decode()


def test_too_long_display_name_is_rejected(reader_client, reader):
    response = reader_client.post(reverse("accounts:profile"), {"display_name": "x" * 81})
    assert response.status_code == 400
    reader.refresh_from_db()
    assert reader.display_name == "Rita"


def test_profile_only_changes_my_own_account(reader_client, reader, other_reader):
    reader_client.post(reverse("accounts:profile"), {"display_name": "Changed", "email": other_reader.email, "id": other_reader.pk})
    other_reader.refresh_from_db()
    reader.refresh_from_db()
    assert other_reader.display_name == "Otto"
    assert reader.email == "reader@example.com"


def test_profile_counts_each_shelf(reader_client, reader, books, rate):
    rate(reader, books[0], 4)
    ShelfEntry.objects.create(user=reader, book=books[1], shelf="currently-reading")
    ShelfEntry.objects.create(user=reader, book=books[2], shelf="to-read")
    html = reader_client.get("/profile/").content.decode()
    assert "1 rating, 1 on Want to read, 1 on Currently reading, 1 on Read." in html
