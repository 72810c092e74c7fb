"""Staff moderation lists name each reader by email: display names are the reader's choice and not unique."""

import pytest

from accounts.models import Dismissal, Review, ShelfEntry


@pytest.mark.parametrize("path", ["/admin/accounts/review/", "/admin/accounts/shelfentry/", "/admin/accounts/dismissal/"])
def test_moderation_lists_show_the_readers_email(staff_client, reader, other_reader, books, path):
    # Both readers chose the same display name: only the email tells them apart.
    reader.display_name = other_reader.display_name = "Rita"
    reader.save()
    other_reader.save()
    for user in (reader, other_reader):
        Review.objects.create(user=user, book=books[0], text="Loved it.")
        ShelfEntry.objects.create(user=user, book=books[0], shelf="read")
        Dismissal.objects.create(user=user, book=books[1])
    html = staff_client.get(path).content.decode()
    assert reader.email in html and other_reader.email in html
