"""Every name livequiz gives to something outside its own process, in one place.

Tables and the schema in PostgreSQL, subjects on the message bus (NATS, or the in-process bus),
the SQLite file: an operator reading this module sees the whole storage and messaging layout at a
glance, and renaming one thing is a change in one line (as arq keeps every Redis key prefix in
one constants module). Nothing else in the package spells these strings.
"""

from __future__ import annotations

# ---------------------------------------------------------------------- the embedded default

#: The SQLite journal inside ``--data-dir``.
SQLITE_FILE = "livequiz.sqlite3"
#: The token signing key inside ``--data-dir`` (the embedded default; PostgreSQL keeps its own).
SIGNING_KEY_FILE = "signing.key"
#: Under the data directory: the spoken words of listening questions, made once and kept.
AUDIO_DIR = "audio"

# ---------------------------------------------------------------------- PostgreSQL

#: The schema that holds every livequiz table (``--database`` may name another with
#: ``?options=-csearch_path%3D…``; tests use one schema each).
PG_SCHEMA = "livequiz"
#: One row per quiz: its definition (immutable), PIN, and whether it has finished.
PG_QUIZZES = "quizzes"
#: The journal: one row per command that changed a quiz, keyed ``(quiz_id, seq)``.
PG_JOURNAL = "journal"
#: Who owns each live quiz: ``(quiz_id, owner_id, epoch, expires_at)``.
PG_LEASES = "quiz_leases"
#: Server-wide secrets shared by every process (the token signing key).
PG_SECRETS = "secrets"
#: Applied schema migrations, by version.
PG_MIGRATIONS = "schema_migrations"
#: Flags on questions, one row per flagger, question and quiz, until a teacher clears them.
PG_FLAGS = "question_flags"
#: The learning app's API keys (hashed), until revoked.
PG_API_KEYS = "api_keys"
#: The webhook outbox: deliveries until the learning app's receiver answers 2xx.
PG_DELIVERIES = "webhook_deliveries"
#: Every table above, for tests that check the schema is what this module says.
PG_TABLES = (
    PG_QUIZZES,
    PG_JOURNAL,
    PG_LEASES,
    PG_SECRETS,
    PG_MIGRATIONS,
    PG_FLAGS,
    PG_API_KEYS,
    PG_DELIVERIES,
)
#: Key of the transaction-level advisory lock held while migrations run (one migrator at once).
PG_MIGRATION_LOCK = 0x6C69_7665  # "live"

# ---------------------------------------------------------------------- the message bus

#: Prefix of every subject; a deployment sharing a NATS server with others may change it.
SUBJECT_PREFIX = "livequiz"


def quiz_commands(quiz_id: str) -> str:
    """Requests to a quiz's owner: batches of commands from the processes holding its players."""
    return f"{SUBJECT_PREFIX}.quiz.{quiz_id}.cmd"


def quiz_log(quiz_id: str) -> str:
    """The quiz's command log as its owner commits it, for every process that serves it."""
    return f"{SUBJECT_PREFIX}.quiz.{quiz_id}.log"


def quiz_owner(quiz_id: str) -> str:
    """Announcements of a new owner of the quiz (after a create, a failover or a hand-over)."""
    return f"{SUBJECT_PREFIX}.quiz.{quiz_id}.owner"


#: Heartbeats of every process (its id), so owners learn which processes are alive.
PROCESSES = f"{SUBJECT_PREFIX}.processes"
