"""``python -m substrate_client.cli``: the ``decentralml`` command line."""

from . import main

if __name__ == "__main__":  # pragma: no cover
    main()
