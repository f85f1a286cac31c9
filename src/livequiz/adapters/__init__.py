"""Adapters behind the ports of :mod:`livequiz.ports`: the embedded default (memory, SQLite,
the in-process bus) and scale-out (PostgreSQL, NATS)."""
