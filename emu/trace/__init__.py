"""Register traces: record (record.py), native format (native.py), Tenet format
(tenet.py), diff (diff.py), show (show.py), CLI (cli.py)."""
from .native import NativeReader, Record, TraceFormatError  # noqa: F401
