"""Forms of a reader's own pages: profile, reviews, the reading goal, account deletion, the Goodreads upload, and
the parameters of rate, shelf and My books."""

from django import forms
from django.utils import timezone

from .models import MAX_READ_COUNT, ReadingGoal, Review, Shelf, User


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
        if self.instance.pk and len(self.instance.text) > Review.MAX_CHARS:
            self.fields["text"].help_text = (
                f"Imported at {len(self.instance.text):,} characters, longer than the {Review.MAX_CHARS:,} of a review "
                "written here: it may keep its length. Shown on the book page with your display name."
            )

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError(self.fields["text"].error_messages["required"])
        # A review imported from Goodreads may be longer than a review written here; editing it must not
        # require cutting it first, so an existing review may keep (up to) its stored length.
        stored = len(self.instance.text) if self.instance.pk else 0
        limit = max(Review.MAX_CHARS, stored)
        if len(text) > limit:
            raise forms.ValidationError(
                f"A review is at most {limit:,} characters; yours has {len(text):,}. "
                f"Please shorten it by {len(text) - limit:,}."
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


# Rating, shelf and My books parameters ----------------------------------------------------------------

STARS_MESSAGE = "A rating is a whole number of stars from 1 to 5."
STAR_CHOICES = [(str(n), f"{n} star{'s' if n > 1 else ''}") for n in range(1, 6)]
DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d"]  # the date input's, and Goodreads'


def first_error(form):
    """The first message of an invalid form, for a one-line reply."""
    for errors in form.errors.values():
        return errors[0]
    return "Something in that request could not be read."


class StarsField(forms.TypedChoiceField):
    def to_python(self, value):
        return super().to_python(value.strip() if isinstance(value, str) else value)


class RateForm(forms.Form):
    """POST /books/<pk>/rate/: value=1…5, or remove=1 to clear the rating."""

    value = StarsField(
        choices=STAR_CHOICES, coerce=int, required=False, empty_value=None,
        error_messages={"invalid_choice": STARS_MESSAGE},
    )
    remove = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if not data.get("remove") and data.get("value") is None and not self.errors:
            raise forms.ValidationError(STARS_MESSAGE)
        return data


# The earliest finish date a reader may give (Goodreads imports keep theirs, checked by the importer).
FIRST_READ_YEAR = 1900


class ShelfForm(forms.Form):
    """POST /books/<pk>/shelf/: shelf=to-read / currently-reading / read / none (off every shelf).

    date_read and read_count change only when sent, so the shelf chooser keeps what the dates form set.
    The first version's action=add / action=remove still work (want-to-read on and off).
    """

    REMOVE = "none"
    shelf = forms.ChoiceField(
        choices=[*Shelf.choices, (REMOVE, "Remove from my books")],
        error_messages={
            "required": "Choose a shelf: Want to read, Currently reading or Read.",
            "invalid_choice": "“%(value)s” is not a shelf. Choose Want to read, Currently reading or Read.",
        },
    )
    date_read = forms.DateField(
        required=False,
        input_formats=DATE_FORMATS,
        error_messages={"invalid": "The finish date must be a real date, such as 2024-03-31."},
    )
    read_count = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_READ_COUNT,
        error_messages={
            "invalid": "Times read must be a whole number, such as 1 or 2.",
            "min_value": "Times read can't be below 0.",
            "max_value": f"Times read can be at most {MAX_READ_COUNT}.",
        },
    )

    def __init__(self, data=None, *args, **kwargs):
        self.legacy_remove = False
        if data is not None:
            data = data.copy()
            if "shelf" not in data and data.get("action") in {"add", "remove"}:
                data["shelf"] = Shelf.TO_READ if data["action"] == "add" else self.REMOVE
                self.legacy_remove = data["action"] == "remove"
            elif len(data.get("shelf", "")) > 40:
                data["shelf"] = data["shelf"][:40] + "…"  # the error message repeats it
        super().__init__(data, *args, **kwargs)

    def clean_date_read(self):
        """A finish date between FIRST_READ_YEAR and today: a year 1 or 9999 is a typo, and stats chart every year."""
        day = self.cleaned_data.get("date_read")
        if day is not None:
            today = timezone.localdate()
            if day.year < FIRST_READ_YEAR or day > today:
                raise forms.ValidationError(
                    f"The finish date must be between {FIRST_READ_YEAR} and today ({today:%Y-%m-%d})."
                )
        return day

    def details(self):
        """The dates the request set: only the fields it sent."""
        data = self.cleaned_data
        details = {}
        if "date_read" in self.data:
            details["date_read"] = data["date_read"]
        if "read_count" in self.data and data["read_count"] is not None:
            details["read_count"] = data["read_count"]
        return details

    @property
    def target_shelf(self):
        shelf = self.cleaned_data["shelf"]
        return None if shelf == self.REMOVE else shelf


class MyBooksForm(forms.Form):
    """GET /my-books/: which shelf, the order, a star filter and the page. Bad values fall back to the default
    and say so (see problems())."""

    SORTS = {
        "added": "Date added",
        "read": "Date read",
        "title": "Title",
        "author": "Author",
        "rating": "My rating",
    }
    shelf = forms.ChoiceField(choices=Shelf.choices, required=False)
    sort = forms.ChoiceField(choices=list(SORTS.items()), required=False)
    stars = forms.ChoiceField(choices=STAR_CHOICES, required=False)
    page = forms.IntegerField(min_value=1, required=False)

    def __init__(self, data, *args, **kwargs):
        data = data.copy()
        if "shelf" not in data and data.get("list") == "want":  # the first version's want-to-read tab
            data["shelf"] = Shelf.TO_READ
        super().__init__(data, *args, **kwargs)

    def value(self, name, default):
        """The parameter's cleaned value, or default when it was missing or bad."""
        self.is_valid()  # invalid fields are left out of cleaned_data
        return self.cleaned_data.get(name) or default

    def problems(self):
        """One sentence per parameter that was ignored."""
        self.is_valid()
        labels = {"shelf": "shelf", "sort": "order", "stars": "star filter", "page": "page number"}
        return [f"Unknown {labels[name]} “{self.data.get(name, '')[:40]}”, so it was ignored." for name in self.errors]


class ImportRowsForm(forms.Form):
    """GET /import/goodreads/<pk>/: which outcome's rows to list, and the page; bad values fall back to all."""

    outcome = forms.CharField(required=False, max_length=40)
    page = forms.IntegerField(min_value=1, required=False)

    def value(self, name, default):
        self.is_valid()
        return self.cleaned_data.get(name) or default
