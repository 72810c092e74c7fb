"""Logging filters the settings' LOGGING refers to."""

import logging

HOST_SHOWN = 100


class BadHostFilter(logging.Filter):
    """Turns Django's DisallowedHost report (ERROR with a traceback) into one WARNING line.

    A wrong Host header is a scanner or a misconfigured proxy, not a fault in the site: the stack
    trace says nothing, and the header, which the client chooses, is cut to 100 characters.
    """

    def filter(self, record):
        request = getattr(record, "request", None)
        host = request.META.get("HTTP_HOST", "") if request is not None else ""
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = record.stack_info = None
        record.msg, record.args = "Refused a request for a host not in ALLOWED_HOSTS: %r", (host[:HOST_SHOWN],)
        return True
