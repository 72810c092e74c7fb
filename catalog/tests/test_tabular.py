"""The shared CSV reader and identifier checks every import uses."""

import io

import pytest

from catalog.tabular import CsvError, CsvTable, decode_text, in_batches, isbn10_is_valid, isbn13_is_valid, open_text


def test_a_byte_order_mark_is_dropped_and_rows_carry_the_line_they_start_on(tmp_path):
    path = tmp_path / "books.csv"
    path.write_bytes('\ufeffid,title\n1,"Two\nlines"\n\n2,Dune\n'.encode())
    with open_text(path) as handle:
        table = CsvTable(handle, required=["id", "title"])
        assert table.header == ["id", "title"]
        assert list(table) == [(2, ["1", "Two\nlines"]), (5, ["2", "Dune"])]


@pytest.mark.parametrize("data", [b"PK\x03\x04\x14\x00\x00\x00", "titre,année\nL'Étranger,1942\n".encode("latin-1"),
                                  b"id,title\n1,a\x00b\n"])
def test_anything_but_utf8_text_is_refused_before_parsing(tmp_path, data):
    with pytest.raises(CsvError) as caught:
        decode_text(data)
    assert caught.value.reason == CsvError.NOT_TEXT and "not UTF-8 text" in str(caught.value)
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    with pytest.raises(CsvError, match="not UTF-8 text"):
        open_text(path).close()


def test_missing_columns_and_an_empty_file_are_named():
    with pytest.raises(CsvError) as caught:
        CsvTable(io.StringIO("id;title\n"), required=["id", "title"])
    assert caught.value.missing == ["id", "title"]
    with pytest.raises(CsvError) as caught:
        CsvTable(io.StringIO(""))
    assert caught.value.reason == CsvError.EMPTY


def test_an_unbalanced_quote_is_refused_with_its_line_when_every_row_must_be_full_width():
    text = 'id,title,year\n1,Dune,1965\n2,"Emma,1815\n3,Ulysses,1922\n'
    assert len(list(CsvTable(io.StringIO(text)))) == 2  # without the check the quote swallows line 4
    with pytest.raises(CsvError) as caught:
        list(CsvTable(io.StringIO(text), exact_width=True))
    assert (caught.value.reason, caught.value.line, caught.value.width) == (CsvError.WIDTH, 3, 2)
    assert str(caught.value).startswith("line 3 has 2 columns where the header has 3")


def test_isbn_check_digits():
    assert isbn13_is_valid("9780261103573") and not isbn13_is_valid("9780261103574")
    assert not isbn13_is_valid("978026110357") and not isbn13_is_valid("978026110357X")
    assert isbn10_is_valid("026110357X") is False and isbn10_is_valid("0261103571")
    assert isbn10_is_valid("080442957X") and not isbn10_is_valid("0804429570")


def test_batches_cover_every_value_once_in_order():
    assert list(in_batches(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(in_batches([], 3)) == []
    assert [v for batch in in_batches(range(5000), params_per_value=2) for v in batch] == list(range(5000))
