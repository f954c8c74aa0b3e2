"""Django's SQLite backend, with write transactions queued across processes (see base.py)."""
