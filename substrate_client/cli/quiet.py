"""Importing TensorFlow without its native library's start-up chatter on stderr."""

from __future__ import annotations

import os
import sys
import tempfile


def load_tensorflow_quietly(verbose: int) -> None:
    """Import TensorFlow now, hiding the native library's start-up chatter on stderr
    (shown with -v, or if the import fails)."""
    from ..tensorflow_setup import load_tensorflow

    if verbose or "tensorflow" in sys.modules:
        load_tensorflow()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            load_tensorflow().config.list_physical_devices()  # CUDA probing talks too
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)

