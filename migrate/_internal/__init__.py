"""The implementation behind ``migrate``'s public API: nothing here is supported for direct use.

What a caller may rely on is what ``migrate.__all__`` lists (docs/library.md), plus the
``migrate.errors`` exceptions and ``migrate.sandbox``. Modules here change without notice.
"""
