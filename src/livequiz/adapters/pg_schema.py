"""The PostgreSQL schema of :mod:`livequiz.adapters.postgres`, as plain versioned SQL.

Why not Alembic: it would bring SQLAlchemy for a handful of tables that this module describes in
forty lines. Each migration is ``(version, sql)``; versions only grow, and a migration, once
released, is never edited (a change is a new version). The server applies the missing ones at
start, all in one transaction that holds ``pg_advisory_xact_lock(names.PG_MIGRATION_LOCK)``, and
records each version in :data:`livequiz.names.PG_MIGRATIONS`: several processes starting at
once migrate exactly once (the others wait for the lock, then find nothing left to do).

The SQL names tables without a schema: :func:`livequiz.adapters.postgres.migrate` runs it under
``SET LOCAL search_path`` to the schema chosen at connect, so one database can hold several
livequiz schemas (the tests use one each). Every table name comes from :mod:`livequiz.names`;
index and constraint names below are derived from them, because the adapter tells a PIN clash
from a duplicate quiz id by the name of the constraint that was violated.
"""

from __future__ import annotations

from livequiz import names

#: The partial unique index that makes a PIN unique among live (unfinished) quizzes; a violation
#: of it means :class:`~livequiz.ports.PinTaken`.
LIVE_PIN_INDEX = f"{names.PG_QUIZZES}_live_pin"
#: The primary key of the quizzes table; a violation of it means a duplicate quiz id.
QUIZZES_PKEY = f"{names.PG_QUIZZES}_pkey"
#: The primary key ``(quiz_id, seq)`` of the journal; a violation of it means the writer is
#: fenced (another writer already stored that sequence number).
JOURNAL_PKEY = f"{names.PG_JOURNAL}_pkey"

_QUIZZES = names.PG_QUIZZES
_JOURNAL = names.PG_JOURNAL
_LEASES = names.PG_LEASES
_SECRETS = names.PG_SECRETS

#: Creates the table the others are recorded in; run before reading which versions exist.
CREATE_MIGRATIONS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {names.PG_MIGRATIONS} (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

_V1 = f"""
-- One row per quiz. created_order orders quizzes by creation without trusting any clock: two
-- quizzes with one PIN are never live at once, so the last created finished one is also the
-- last finished one (ended_quiz_for_pin), and orphans are taken oldest first.
CREATE TABLE {_QUIZZES} (
    quiz_id text NOT NULL,
    created_order bigint GENERATED ALWAYS AS IDENTITY,
    pin text NOT NULL,
    definition json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT {QUIZZES_PKEY} PRIMARY KEY (quiz_id)
);
CREATE UNIQUE INDEX {LIVE_PIN_INDEX} ON {_QUIZZES} (pin) WHERE finished_at IS NULL;
CREATE INDEX {_QUIZZES}_pin_order ON {_QUIZZES} (pin, created_order);
CREATE INDEX {_QUIZZES}_live_order ON {_QUIZZES} (created_order) WHERE finished_at IS NULL;

-- The journal. Records are json: the text exactly as the writer sent it (why json rather
-- than jsonb or bytea: see the adapter's _init_connection). No foreign key to quizzes, on
-- purpose: append writes a row only after locking the quiz's lease row at the writer's epoch
-- in the same statement, and a lease row exists only for a stored quiz, so a foreign key
-- would re-check per row what is already known, on the hottest path. The writer's epoch is
-- kept on each row for audits and recovery.
CREATE TABLE {_JOURNAL} (
    quiz_id text NOT NULL,
    seq bigint NOT NULL,
    epoch bigint NOT NULL,
    record json NOT NULL,
    CONSTRAINT {JOURNAL_PKEY} PRIMARY KEY (quiz_id, seq)
);

-- Who owns each quiz. The row is made with the quiz (epoch 1) and never deleted: finishing a
-- quiz sets finished, so a finished quiz can never be acquired again and the epoch never goes
-- back. expires_at is always computed by the database's clock.
CREATE TABLE {_LEASES} (
    quiz_id text PRIMARY KEY REFERENCES {_QUIZZES} (quiz_id),
    owner_id text NOT NULL,
    epoch bigint NOT NULL CHECK (epoch > 0),
    expires_at timestamptz NOT NULL,
    finished boolean NOT NULL DEFAULT false
);
CREATE INDEX {_LEASES}_expiring ON {_LEASES} (expires_at) WHERE NOT finished;

-- Server-wide secrets shared by every process (the token signing key).
CREATE TABLE {_SECRETS} (
    name text PRIMARY KEY,
    value bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

_V2 = f"""
-- Flags on questions (ports.QuestionFlags): one row per flagger ('host' or 'player:<id>'),
-- question and quiz, so a repeated flag counts once (ON CONFLICT DO NOTHING); a teacher's
-- clear deletes every row of a (word_key, kind). word_key is the word case-folded.
CREATE TABLE {names.PG_FLAGS} (
    word_key text NOT NULL,
    kind text NOT NULL,
    quiz_id text NOT NULL,
    flagger text NOT NULL,
    word text NOT NULL,
    level text NOT NULL,
    prompt text NOT NULL,
    question integer NOT NULL,
    reason text NOT NULL,
    at_ms bigint NOT NULL,
    PRIMARY KEY (word_key, kind, quiz_id, flagger)
);
"""

_V3 = f"""
-- The learning app's API keys (ports.ApiKeys): the secret's SHA-256, never the secret; the
-- webhook of the key's quizzes, and its signing secret.
CREATE TABLE {names.PG_API_KEYS} (
    key_id text PRIMARY KEY,
    name text NOT NULL,
    secret_sha256 text NOT NULL,
    created_at_ms bigint NOT NULL,
    revoked_at_ms bigint,
    webhook_url text,
    webhook_secret text
);
-- The webhook outbox (ports.Deliveries): a row per delivery until the receiver answers 2xx.
CREATE TABLE {names.PG_DELIVERIES} (
    key text PRIMARY KEY,
    quiz_id text NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    body text NOT NULL,
    created_at_ms bigint NOT NULL,
    next_at_ms bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    delivered_at_ms bigint,
    last_error text NOT NULL DEFAULT ''
);
CREATE INDEX {names.PG_DELIVERIES}_due ON {names.PG_DELIVERIES} (next_at_ms)
    WHERE delivered_at_ms IS NULL;
"""

#: Every migration, in order: ``(version, sql)``. Append only.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2), (3, _V3))
