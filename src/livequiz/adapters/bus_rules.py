"""What both buses (:mod:`~livequiz.adapters.local_bus`, :mod:`~livequiz.adapters.nats`) check
and raise the same way, so code tested on the in-process bus behaves the same on NATS.

* Payloads are limited to NATS's default ``max_payload`` (1 MiB) on the in-process bus too, so a
  message that would fail in scale-out already fails in the embedded default and in tests.
* Subjects are exact: the wildcards ``*`` and ``>`` are refused by both buses (livequiz names
  every subject in :mod:`livequiz.names` and never needs them; the in-process bus matches
  subjects by dictionary lookup, and refusing wildcards on NATS too keeps the two identical).
* A responder that raises makes the request fail with :class:`ResponderFailed`, whose text names
  the subject and the error; the responder's process logs the traceback.
"""

from __future__ import annotations

import re

from livequiz.ports import ResponderFailed

__all__ = ["MAX_PAYLOAD_BYTES", "ResponderFailed", "check_subject", "payload_too_large"]

#: NATS's default ``max_payload`` (bytes). The NATS bus uses what its server announces instead.
MAX_PAYLOAD_BYTES = 1024 * 1024

_INVALID_SUBJECT = re.compile(r"[\s*>]|^\.|\.$|\.\.")


def check_subject(subject: str) -> None:
    """Raise ``ValueError`` unless ``subject`` is a plain NATS subject without wildcards."""
    if not subject or _INVALID_SUBJECT.search(subject):
        raise ValueError(
            f"invalid bus subject {subject!r}: dot-separated non-empty tokens without spaces, "
            "and no wildcards ('*', '>'), which livequiz's buses do not support"
        )


def payload_too_large(subject: str, size: int, limit: int) -> ValueError:
    """The error for a message over the bus's size limit (checked before anything is sent)."""
    return ValueError(
        f"message of {size} bytes on {subject!r} exceeds the bus's limit of {limit} bytes "
        "(NATS max_payload); nothing was sent"
    )
