"""Forms of a reader's own pages: profile, reviews, the reading goal, account deletion and the Goodreads upload."""

from django import forms

from .models import ReadingGoal, Review, User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "digest_frequency"]
        help_texts = {"display_name": "Shown in the header and beside your reviews. Leave empty to use the first part of "
                                      "your email in the header; reviews then say \"A reader\"."}
        widgets = {"digest_frequency": forms.RadioSelect}

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


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["text"]
        labels = {"text": "Your review"}
        widgets = {"text": forms.Textarea(attrs={"rows": 6})}
        help_texts = {"text": f"Up to {Review.MAX_CHARS:,} characters. Shown on the book page with your display name."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The length is checked in clean_text with a message that says by how much; the browser's own
        # maxlength would silently cut a pasted review short.
        self.fields["text"].max_length = None
        self.fields["text"].validators = []
        self.fields["text"].widget.attrs.pop("maxlength", None)
        self.fields["text"].error_messages["required"] = "A review needs some text. To remove your review, delete it instead."

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError(self.fields["text"].error_messages["required"])
        if len(text) > Review.MAX_CHARS:
            raise forms.ValidationError(
                f"A review is at most {Review.MAX_CHARS:,} characters; yours has {len(text):,}. "
                f"Please shorten it by {len(text) - Review.MAX_CHARS:,}."
            )
        return text


class ReadingGoalForm(forms.ModelForm):
    goal_range = f"Choose a goal from 1 to {ReadingGoal.MAX_BOOKS:,} books."
    books = forms.IntegerField(
        label="Books to read this year",
        min_value=1,
        max_value=ReadingGoal.MAX_BOOKS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": "Enter how many books you mean to read this year.",
            "invalid": "Enter a whole number of books, such as 24.",
            "min_value": goal_range,
            "max_value": goal_range,
        },
    )

    class Meta:
        model = ReadingGoal
        fields = ["books"]
