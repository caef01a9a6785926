"""The loader: create every valid row as a Clerk user at the instance's rate, exactly once.

``execute`` (engine) is one pass over a planned state DB; ``migrate.runner.session`` wires it
to the prepared input, the state DB, the client and the reports for the ``run`` family of
commands.
"""
