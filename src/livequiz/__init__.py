"""livequiz: a real-time vocabulary quiz server for English learners."""

__version__ = "0.1.0"
