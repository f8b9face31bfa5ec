"""Benchmarks against the performance targets of DESIGN.md section 6 (``halgui bench``).

Each module has ``run(...) -> dict`` (JSON-ready: ``{"rows": [...], "context": {...}}``) and
``format_table(result) -> str``. Nothing here is imported when halgui is; the CLI imports a
benchmark module only when asked to run it.
"""
