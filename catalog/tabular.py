"""The CSV reader, ISBN checks and batching that every import shares (goodbooks, demo catalog, Goodreads, rating splits).

One reader gives every CSV the same checks: UTF-8 with or without a byte-order mark, anything else refused
as "not UTF-8 text" before a byte of it is echoed back, a header that must name the required columns, the
csv module's parse errors with their line, and (for files that write every column on every row) a row of
another width refused as an unbalanced quote. Each caller words the message for its own readers from the
CsvError's reason and details.
"""

import codecs
import csv
import re

from django.db import connection

ISBN10 = re.compile(r"[0-9]{9}[0-9X]")
ISBN13 = re.compile(r"[0-9]{13}")
TEXT_SNIFF_BYTES = 64 * 1024


class CsvError(ValueError):
    """A CSV that can't be read as a whole. `reason` is one of the constants below; str() is a plain message."""

    NOT_TEXT = "not_text"
    EMPTY = "empty"
    MISSING_COLUMNS = "missing_columns"
    UNREADABLE = "unreadable"  # the csv module could not tell where the next row starts
    WIDTH = "width"  # a row with more or fewer cells than the header: a quote left open or closed early

    def __init__(self, reason, *, line=None, header=(), missing=(), width=None, detail=""):
        self.reason, self.line, self.header, self.missing = reason, line, list(header), list(missing)
        self.width, self.detail = width, detail
        super().__init__(self._describe())

    def _describe(self):
        if self.reason == self.NOT_TEXT:
            return "not UTF-8 text (expected a CSV file)"
        if self.reason == self.EMPTY:
            return "empty: no header line"
        if self.reason == self.MISSING_COLUMNS:
            return f"missing columns {', '.join(self.missing)}"
        if self.reason == self.WIDTH:
            return (f"line {self.line} has {self.width} columns where the header has {len(self.header)}: "
                    "probably a quote (\") that is not closed")
        return f"line {self.line}: unreadable CSV ({self.detail})"


def decode_text(data: bytes) -> str:
    """An upload as text: UTF-8, with or without a byte-order mark. NUL bytes mean a binary file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvError(CsvError.NOT_TEXT) from None
    if "\x00" in text:
        raise CsvError(CsvError.NOT_TEXT)
    return text


def open_text(path):
    """Open a (possibly huge) CSV file for reading, after checking that it starts as UTF-8 text.

    Only the header line must decode: undecodable bytes later on are kept as lone surrogates
    (surrogateescape), so has_broken_encoding() can report that row by its line instead of the whole file failing.
    """
    with open(path, "rb") as handle:
        start = handle.read(TEXT_SNIFF_BYTES)
    try:
        # final=False: the cut may fall inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(start.split(b"\n", 1)[0], final=False)
    except UnicodeDecodeError:
        raise CsvError(CsvError.NOT_TEXT) from None
    if b"\x00" in start:
        raise CsvError(CsvError.NOT_TEXT)
    return open(path, newline="", encoding="utf-8-sig", errors="surrogateescape")


def has_broken_encoding(values):
    """Whether any value holds bytes that were not UTF-8 (read through open_text's surrogateescape)."""
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


class CsvTable:
    """A CSV with a header line. Iterating yields (line, cells) for each non-blank row, where line is the
    line the row starts on. With exact_width, a row whose cell count differs from the header's raises
    CsvError(WIDTH) instead of being yielded."""

    def __init__(self, lines, *, required=(), exact_width=False):
        self._reader = csv.reader(lines)
        self.exact_width = exact_width
        try:
            header = next(self._reader, None)
        except csv.Error as error:
            raise CsvError(CsvError.UNREADABLE, line=self._reader.line_num, detail=str(error)) from None
        if header is None:
            raise CsvError(CsvError.EMPTY)
        self.header = [name.strip() for name in header]
        missing = [name for name in required if name not in self.header]
        if missing:
            raise CsvError(CsvError.MISSING_COLUMNS, header=self.header, missing=missing)
        self.index = {}
        for position, name in enumerate(self.header):
            self.index.setdefault(name, position)  # a repeated name reads its first column

    def __iter__(self):
        reader = self._reader
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise CsvError(CsvError.UNREADABLE, line=reader.line_num, detail=str(error)) from None
            if not any(cell.strip() for cell in cells):
                continue
            if self.exact_width and len(cells) != len(self.header):
                raise CsvError(CsvError.WIDTH, line=line, header=self.header, width=len(cells))
            yield line, cells

    def values(self, cells, columns):
        """{column: stripped cell} for the given columns (a missing trailing cell reads as "")."""
        return {name: cells[self.index[name]].strip() if self.index[name] < len(cells) else "" for name in columns}


def isbn10_is_valid(isbn):
    """Ten characters, digits and a final X allowed, with a correct mod-11 check digit."""
    if not ISBN10.fullmatch(isbn):
        return False
    return sum((10 - i) * (10 if ch == "X" else int(ch)) for i, ch in enumerate(isbn)) % 11 == 0


def isbn13_check_digit(first12):
    """The 13th digit of the ISBN-13 that starts with these 12 digits."""
    return str((10 - sum(int(ch) * (3 if i % 2 else 1) for i, ch in enumerate(first12)) % 10) % 10)


def isbn13_is_valid(isbn):
    return bool(ISBN13.fullmatch(isbn)) and isbn13_check_digit(isbn[:12]) == isbn[12]


def isbn10_to_isbn13(isbn10):
    first12 = "978" + isbn10[:9]
    return first12 + isbn13_check_digit(first12)


def in_batches(values, size=None, *, params_per_value=1):
    """Split values into lists of at most `size`; by default as many as one `__in` lookup may pass."""
    values = list(values)
    if size is None:
        limit = connection.features.max_query_params or 10_000  # None on PostgreSQL: keep statements moderate anyway
        size = max(1, (limit - 50) // params_per_value)  # leave room for the query's other parameters
    for start in range(0, len(values), size):
        yield values[start : start + size]
