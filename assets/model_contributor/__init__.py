"""The contributor side of the example task bundle: train the creator's model on your own shard.

Runs on its own from the extracted bundle (``./start_task.sh``); importable as
``assets.model_contributor.model_contributor`` from the repository for tests.
"""
