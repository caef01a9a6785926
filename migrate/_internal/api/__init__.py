"""The public API's implementation: what ``migrate.validate / run / retry / verify / rollback /
report`` do. Import those names from ``migrate``; the modules here are not a supported surface.
"""
