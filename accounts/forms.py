"""Forms of a reader's own pages: profile, account deletion and the Goodreads upload."""

from django import forms

from .models import User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name"]
        help_texts = {"display_name": "Shown in the header instead of your email address. Leave empty to use its first part."}

    def clean_display_name(self):
        return self.cleaned_data["display_name"].strip()


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="We ask again to be sure it is you. This cannot be undone.",
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. Your account has not been deleted.")
        return password


class GoodreadsImportForm(forms.Form):
    export = forms.FileField(
        label="Goodreads library export (CSV)",
        help_text="On Goodreads: My Books → Import and export → Export library. Up to 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
