"""``python -m trainwright`` runs the CLI."""

from trainwright.cli import run

if __name__ == "__main__":
    run()
