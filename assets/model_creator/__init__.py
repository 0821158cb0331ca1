"""The model creator's side of the example task: the model, validation hook and federation.

Run ``python assets/model_creator/model_creator.py --help`` (or ``./setup.sh``).
"""
