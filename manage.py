#!/usr/bin/env python
"""Django's command-line utility for BookRec."""

import os
import sys

# Commands that read only the code (writing or checking migrations) need no secrets and no
# deployment: they run with the test settings, which keep DEBUG off like production.
CODE_ONLY_COMMANDS = {"makemigrations"}


def main():
    if len(sys.argv) > 1 and sys.argv[1] in CODE_ONLY_COMMANDS:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.test_settings")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.settings")
    # No development defaults here: a cron job whose environment went missing must stop with the
    # missing variable's name, not run against the checkout's SQLite file. `make run` sets DEBUG=1.
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
