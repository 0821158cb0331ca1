"""The former name of :mod:`substrate_client.validation`, kept so old imports work.

Reviewing results is the validation route: use ``substrate_client.validation``
(:func:`~substrate_client.validation.validate_task_results`,
:func:`~substrate_client.validation.submit_decisions`, the strategies
:class:`~substrate_client.validation.AutoAccept`, ``ManualAccept``, ``CustomAccept``).
"""

from .validation import *  # noqa: F401,F403
from .validation import __all__  # noqa: F401
