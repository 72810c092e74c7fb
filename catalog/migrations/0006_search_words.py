"""Search's vocabulary stage on PostgreSQL: the catalog's words, kept by triggers, and a GIN index on each
book's words.

catalog.search first finds each query word's spellings among the catalog's words (a trigram index over a
few thousand short words is quick to scan), then the books that hold a spelling of every word (the GIN index
on string_to_array(search_text, ' ')). At a million books that reads far fewer index entries than the
trigram index on whole search texts.

The triggers make every way of writing books add its words: inserts learn them once per statement, from
the statement's new rows, so an import of 100,000 books makes one insert into the vocabulary; updates learn
them per row, and only when search_text changed, so a rating's summary update costs nothing. Words longer
than MAX_WORD_CHARS are left out: no query word that long is looked up.

Every step but the table is skipped on other databases, where search matches in Python.
"""

from django.db import migrations, models

MAX_WORD_CHARS = 60

LEARN_WORDS = f"""
INSERT INTO catalog_searchword (word)
SELECT DISTINCT word FROM {{words}}
WHERE length(word) BETWEEN 1 AND {MAX_WORD_CHARS}
ON CONFLICT DO NOTHING
"""

FORWARD = [
    LEARN_WORDS.format(words="catalog_book, unnest(string_to_array(search_text, ' ')) AS word"),
    # On lower(word), which is the word (words are stored lowercase): an index on the column itself would
    # also serve `word = ANY(...)`, and without statistics the planner then runs one trigram scan per word.
    "CREATE INDEX searchword_trgm_idx ON catalog_searchword USING gin (lower(word) gin_trgm_ops)",
    "CREATE INDEX book_search_words_idx ON catalog_book USING gin (string_to_array(search_text, ' '))",
    f"""
    CREATE FUNCTION catalog_book_learn_inserted_words() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {LEARN_WORDS.format(words="inserted_books, unnest(string_to_array(search_text, ' ')) AS word")};
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION catalog_book_learn_updated_words() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {LEARN_WORDS.format(words="unnest(string_to_array(NEW.search_text, ' ')) AS word")};
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER book_search_words_on_insert AFTER INSERT ON catalog_book
    REFERENCING NEW TABLE AS inserted_books FOR EACH STATEMENT EXECUTE FUNCTION catalog_book_learn_inserted_words()
    """,
    """
    CREATE TRIGGER book_search_words_on_update AFTER UPDATE OF search_text ON catalog_book
    FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text)
    EXECUTE FUNCTION catalog_book_learn_updated_words()
    """,
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS book_search_words_on_update ON catalog_book",
    "DROP TRIGGER IF EXISTS book_search_words_on_insert ON catalog_book",
    "DROP FUNCTION IF EXISTS catalog_book_learn_updated_words()",
    "DROP FUNCTION IF EXISTS catalog_book_learn_inserted_words()",
    "DROP INDEX IF EXISTS book_search_words_idx",
]


def run_on_postgres(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0005_book_pages"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[
                ("word", models.TextField(primary_key=True, serialize=False)),
            ],
        ),
        migrations.RunPython(run_on_postgres(FORWARD), run_on_postgres(BACKWARD)),
    ]
