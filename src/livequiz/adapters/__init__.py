"""Adapters behind the ports of :mod:`livequiz.ports`: the embedded default, and later Redis."""
