#!/usr/bin/env python
"""Django's command-line utility for BookRec."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.settings")
    # A machine with no SECRET_KEY is a developer's checkout (a deployment always sets one, or the web
    # process refuses to start): there, commands run with development defaults. An explicit DEBUG=0
    # still demands SECRET_KEY and ALLOWED_HOSTS.
    if not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
