"""Differential privacy for contributors: clip and noise an update, and count what a campaign spends.

A contributor's *update* is its trained weights minus the weights the round started
from, over all its variables. Before sending, :func:`privatize_weights` clips the
update's global L2 norm to ``clip_norm`` (C) and adds Gaussian noise of standard
deviation ``noise_multiplier * C`` to every coordinate (the Gaussian mechanism, as in
DP-FedAvg, McMahan et al. 2018), and returns the weights to send: start + noised update.

:func:`privacy_spent` says what (epsilon, delta) a campaign of R such rounds spends,
computed by Google's ``dp-accounting`` library (its RDP or PLD accountant, a Gaussian
event composed R times), never by a formula of ours. ``dp-accounting`` is imported
only when an epsilon is asked for (it brings SciPy); the rest is pure numpy, and
importing this module does not import TensorFlow.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ..errors import UserInputError

__all__ = [
    "update_norm",
    "clip_update",
    "privatize_update",
    "privatize_weights",
    "PrivacySpent",
    "privacy_spent",
    "ACCOUNTANTS",
]

log = logging.getLogger(__name__)

#: The accountants of ``dp-accounting`` that :func:`privacy_spent` can use.
ACCOUNTANTS = ("rdp", "pld")

#: The PLD accountant's time and memory grow without bound as the noise of the whole
#: campaign, ``noise_multiplier / sqrt(rounds)``, shrinks (below 0.1 it took minutes
#: and gigabytes here). Below this value epsilon is already above 24 at delta 1e-5
#: (no meaningful privacy): the RDP accountant answers such questions at once.
MIN_PLD_CAMPAIGN_NOISE = 0.25


def _positive(value: Any, what: str, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "at least 0" if allow_zero else "greater than 0"
        raise UserInputError(f"{what} must be a finite number {bound}, got {value!r}")
    return float(value)


def _is_float(value: np.ndarray) -> bool:
    return value.dtype.kind == "f"


def update_norm(update: Mapping[str, Any]) -> float:
    """The global L2 norm of an update: over every floating-point value of every variable."""
    total = 0.0
    for key, value in update.items():
        value = np.asarray(value)
        if not _is_float(value):
            continue
        flat = value.astype(np.float64, copy=False).ravel()
        total += float(np.dot(flat, flat))
    norm = math.sqrt(total)
    if not math.isfinite(norm):
        raise UserInputError("the update holds values that are not finite (NaN or infinity), or is too large")
    return norm


def clip_update(update: Mapping[str, Any], clip_norm: float) -> Tuple[Dict[str, np.ndarray], float]:
    """(the update scaled to a global L2 norm of at most ``clip_norm``, its norm before).

    An update within the bound is returned unchanged (as float64 arrays); a larger one
    is scaled by ``clip_norm / norm``. Variables that are not floating point are left out.
    """
    bound = _positive(clip_norm, "clip_norm")
    norm = update_norm(update)
    scale = min(1.0, bound / norm) if norm > 0 else 1.0
    clipped = {}
    for key, value in update.items():
        value = np.asarray(value)
        if _is_float(value):
            clipped[key] = value.astype(np.float64) * scale
    return clipped, norm


def privatize_update(update: Mapping[str, Any], clip_norm: float, noise_multiplier: float,
                     rng: Optional[np.random.Generator] = None) -> Dict[str, np.ndarray]:
    """The update clipped to ``clip_norm`` (C) with Gaussian noise of standard deviation
    ``noise_multiplier * C`` added to each coordinate (float64 arrays, the update's
    floating-point variables in its order).

    ``rng`` draws the noise, variable by variable in the update's order (pass
    ``np.random.default_rng(seed)`` to reproduce a draw in a test). By default a generator
    seeded with 128 bits from :mod:`secrets`, so the noise cannot be predicted from a
    seed. NumPy's generator (PCG64) is not a cryptographically secure stream, and the
    textbook way of sampling a Gaussian in floating point leaks a little through the
    low bits of the result (Mironov, CCS 2012): noise for production should come from a
    CSPRNG-backed sampler made for DP (discrete or secure Gaussian sampling).
    """
    sigma = _positive(noise_multiplier, "noise_multiplier", allow_zero=True)
    if rng is None:
        rng = np.random.default_rng(secrets.randbits(128))
    elif not isinstance(rng, np.random.Generator):
        raise UserInputError(f"rng must be a numpy Generator (np.random.default_rng(...)), got {type(rng).__name__}")
    clipped, norm = clip_update(update, clip_norm)
    stddev = sigma * float(clip_norm)
    log.debug("update norm %.6g clipped to %.6g, noise stddev %.6g", norm, min(norm, clip_norm), stddev)
    if stddev > 0:
        for value in clipped.values():
            value += rng.normal(0.0, stddev, size=value.shape)
    return clipped


def privatize_weights(trained: Mapping[str, Any], start: Mapping[str, Any], clip_norm: float,
                      noise_multiplier: float, rng: Optional[np.random.Generator] = None) -> Dict[str, np.ndarray]:
    """The weights a contributor sends instead of ``trained``: ``start`` plus the update
    ``trained - start`` clipped to ``clip_norm`` and noised (:func:`privatize_update`).

    ``trained`` and ``start`` (the weights the round started from) must hold the same
    variables with the same shapes, by key. Each result keeps its variable's dtype.
    Variables that are not floating point (counters, random-generator state) cannot
    carry noise: they keep their value from ``start``, so nothing un-noised leaves.
    """
    if set(trained) != set(start):
        odd = sorted(set(trained).symmetric_difference(start))
        raise UserInputError(f"the trained weights and the round's starting weights differ in variables "
                             f"{', '.join(map(repr, odd[:3]))}" + (f" and {len(odd) - 3} more" if len(odd) > 3 else ""))
    update: Dict[str, np.ndarray] = {}
    kept = []
    for key, value in trained.items():
        new, old = np.asarray(value), np.asarray(start[key])
        if new.shape != old.shape or new.dtype != old.dtype:
            raise UserInputError(f"{key!r} is {new.dtype} {list(new.shape)} after training but {old.dtype} "
                                 f"{list(old.shape)} in the round's starting weights")
        if _is_float(new) and _is_float(old):
            update[key] = new.astype(np.float64) - old.astype(np.float64)
        else:
            kept.append(key)
    if kept:
        log.warning("variables that are not floating point keep the round's starting value: %s", ", ".join(kept))
    noised = privatize_update(update, clip_norm, noise_multiplier, rng)
    out = {}
    for key, value in start.items():
        old = np.asarray(value)
        out[key] = (old.astype(np.float64) + noised[key]).astype(old.dtype) if key in noised else old.copy()
    return {key: out[key] for key in trained}


@dataclass(frozen=True)
class PrivacySpent:
    """What a campaign spends: it is (``epsilon``, ``delta``)-differentially private."""

    epsilon: float
    delta: float
    rounds: int
    noise_multiplier: float
    accountant: str


def privacy_spent(rounds: int, noise_multiplier: float, delta: float, accountant: str = "rdp") -> PrivacySpent:
    """The (epsilon, ``delta``) a contributor has spent after ``rounds`` rounds of
    :func:`privatize_weights` with ``noise_multiplier``.

    Computed by ``dp-accounting`` (Google's maintained DP accounting library): one
    ``GaussianDpEvent(noise_multiplier)`` per round, composed ``rounds`` times, in its
    RDP accountant (``"rdp"``, the default: fast, slightly conservative) or its
    privacy-loss-distribution accountant (``"pld"``: tighter, slower; refused when
    ``noise_multiplier / sqrt(rounds)`` is below :data:`MIN_PLD_CAMPAIGN_NOISE`).

    What it means: the contributor's clipped update has sensitivity C and noise of
    standard deviation ``noise_multiplier * C``; under the library's add-or-remove-one
    relation, what the creator sees in all R rounds together is (epsilon, delta)-close
    to what it would see had this contributor sent no update (a zero update) in each.
    The unit protected is the contributor's whole data set. Every contributor takes part
    in every round, so there is no amplification by subsampling: none is assumed. To
    bound how well the creator tells apart two different data sets of the same
    contributor (updates up to 2C apart), count with ``noise_multiplier / 2``.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise UserInputError(f"rounds must be a whole number of at least 1, got {rounds!r}")
    sigma = _positive(noise_multiplier, "noise_multiplier (a finite epsilon needs noise)")
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)) \
            or not 0.0 < delta < 1.0:
        raise UserInputError(f"delta must be a number strictly between 0 and 1, got {delta!r}")
    name = str(accountant).strip().lower()
    if name not in ACCOUNTANTS:
        raise UserInputError(f"unknown privacy accountant {accountant!r}; choose one of: {', '.join(ACCOUNTANTS)}")
    if name == "pld" and sigma / math.sqrt(rounds) < MIN_PLD_CAMPAIGN_NOISE:
        raise UserInputError(
            f"noise_multiplier {sigma} over {rounds} rounds is too little noise for the PLD accountant "
            f"(noise_multiplier / sqrt(rounds) < {MIN_PLD_CAMPAIGN_NOISE}: epsilon exceeds 24 at delta 1e-5, "
            "and the computation grows without bound): use the 'rdp' accountant")

    import dp_accounting  # lazy: it imports SciPy

    event = dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(sigma), int(rounds))
    if name == "rdp":
        counter = dp_accounting.rdp.RdpAccountant()
    else:
        counter = dp_accounting.pld.PLDAccountant()
    counter.compose(event)
    epsilon = float(counter.get_epsilon(float(delta)))
    return PrivacySpent(epsilon=epsilon, delta=float(delta), rounds=int(rounds), noise_multiplier=sigma,
                        accountant=name)
