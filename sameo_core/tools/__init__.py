"""Command-line tools of the library: `python -m sameo_core.tools.<name>` (see README)."""
