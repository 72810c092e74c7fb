"""Password validators of our own, next to Django's common-password and similarity ones."""

from django.core.exceptions import ValidationError


class NotOnlyWhitespaceValidator:
    """Refuses a password made only of spaces, tabs or line breaks (twelve spaces pass every length check)."""

    def validate(self, password, user=None):
        if not password.strip():
            raise ValidationError("Your password can't be only spaces.", code="password_whitespace_only")

    def get_help_text(self):
        return "Your password can't be only spaces."
