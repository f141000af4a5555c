"""The `charmelio` command: one entry point for people, over the kernel, the pools and the tools.

Each sub-command imports what it needs when it runs, so `charmelio worker workflow` loads neither
pypdf, openai, minio nor psycopg.
"""

from cli._commands import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
