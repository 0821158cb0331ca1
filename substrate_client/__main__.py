"""``python -m substrate_client ...`` runs the ``decentralml`` command line."""

from .cli import cli

if __name__ == "__main__":
    cli(prog_name="decentralml")
