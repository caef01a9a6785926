"""``python -m migrate`` runs the command line."""

from migrate.cli import main

if __name__ == "__main__":
    main()
