"""manage.py import_goodbooks DIR: load the goodbooks-10k catalog and, unless skipped, its ratings."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import dataset_import
from accounts.ratings import refresh_rating_summaries
from catalog import goodbooks


class Command(BaseCommand):
    help = "Import goodbooks-10k: books.csv (+ tags.csv/book_tags.csv as genres, + ratings.csv). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="Folder holding books.csv and optionally tags.csv, book_tags.csv, ratings.csv")
        parser.add_argument("--dry-run", action="store_true", help="Read and validate every file, write nothing.")
        parser.add_argument("--skip-ratings", action="store_true", help="Import the catalog only, not ratings.csv.")

    def handle(self, directory, dry_run=False, skip_ratings=False, **options):
        try:
            self.import_directory(directory, dry_run, skip_ratings)
        except goodbooks.GoodbooksFormatError as error:
            # Raised before writing, or inside the transaction, which it then rolls back.
            raise CommandError(str(error)) from error

    def import_directory(self, directory, dry_run, skip_ratings):
        started = time.monotonic()
        files = goodbooks.check_files(Path(directory), with_ratings=not skip_ratings)
        self.stdout.write(f"Reading {', '.join(files)} from {directory}" + (" (dry run: nothing is written)" if dry_run else ""))
        problems = goodbooks.Problems()

        rows = goodbooks.read_books(files[goodbooks.BOOKS_FILE], problems)
        self.stdout.write(f"books.csv: {len(rows):,} valid books")
        if not rows:
            raise CommandError("books.csv has no valid book rows: nothing imported.")
        genres = {}
        if goodbooks.TAGS_FILE in files:
            genres = goodbooks.read_book_genres(files[goodbooks.TAGS_FILE], files[goodbooks.BOOK_TAGS_FILE], problems)
            self.stdout.write(f"book_tags.csv: genres for {len(genres):,} books")

        ratings_path = files.get(goodbooks.RATINGS_FILE)
        if dry_run:
            if ratings_path:
                valid = dataset_import.validate_ratings(ratings_path, [row.dataset_id for row in rows], problems, self.progress)
                self.stdout.write(f"ratings.csv: {valid:,} valid ratings")
            self.report_problems(problems)
            self.stdout.write(self.style.SUCCESS(f"Dry run finished in {time.monotonic() - started:.1f}s: nothing was written."))
            return

        with transaction.atomic():
            catalog = goodbooks.write_catalog(rows, genres, self.progress)
            if ratings_path:
                ratings_started = time.monotonic()
                result = dataset_import.import_ratings(ratings_path, catalog.book_ids, problems, self.progress)
                self.stdout.write(
                    f"ratings: {result.rows_valid:,} valid rows, {result.created:,} new, {result.updated:,} changed, "
                    f"{result.raters_created:,} new dataset readers ({time.monotonic() - ratings_started:.1f}s)"
                )
                if result.duplicates:
                    self.stdout.write(self.style.WARNING(
                        f"ratings.csv: {result.duplicates:,} repeated (reader, book) rows; the last one of each was kept"
                    ))
                self.progress("recounting rating summaries")
                refresh_rating_summaries(sorted(result.book_ids))
        self.report_problems(problems)
        self.stdout.write(self.style.SUCCESS(
            f"Imported {catalog.created:,} new and {catalog.updated:,} updated books, "
            f"{catalog.authors_created:,} new authors, {catalog.genres_created:,} new genres "
            f"in {time.monotonic() - started:.1f}s."
        ))

    def progress(self, message):
        self.stdout.write(f"  … {message}")
        self.stdout.flush()

    def report_problems(self, problems):
        if not problems.count():
            return
        self.stdout.write(self.style.WARNING(f"{problems.count():,} bad rows were skipped:"))
        for line in problems.lines():
            self.stdout.write(f"  {line}")
