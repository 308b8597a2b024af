"""The functions the generated ensemble code calls (Vensim builtins PySD implements in Python).

Each follows PySD's definition (``pysd.py_backend.functions``) operation for operation and is
written once, for two callers: called from Python it works element-wise on numpy arrays
(:func:`defdip.engines.ensemble_build.equation_functions`); called from the compiled engine it
is compiled by numba on plain numbers (``register_jitable``). The one primitive whose numpy
form does not suit numbers, :func:`where`, has a numba overload for scalars.

numba is imported here at module level: this module is only imported by the ensemble engine,
never at the command line's start-up.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload, register_jitable

from defdip.core.errors import Unsupported  # noqa: F401 - re-exported: the engine's refusal

SMALL_VENSIM = 1e-6  # pysd.py_backend.functions.SMALL_VENSIM


def where(condition, if_true, if_false):
    """IF THEN ELSE: :func:`numpy.where` on arrays; on numbers in compiled code, a plain branch."""
    return np.where(condition, if_true, if_false)


@overload(where)
def _where_scalar(condition, if_true, if_false):
    # numba's np.where returns a 0-d array for numbers, which would make every equation an array
    def impl(condition, if_true, if_false):
        return if_true if condition else if_false
    return impl


@register_jitable
def pulse(t, start, repeat, width, magnitude, end):
    """PySD's ``pulse``: PULSE (``repeat`` 0), PULSE TRAIN, and XMILE's PULSE (``magnitude``/dt).

    ``end`` is ``inf`` where PySD's is None; ``magnitude`` is already the pulse's height.
    """
    single = (start - SMALL_VENSIM <= t) & (t < start + width)
    train = (start <= t) & (t < end) & (np.mod(t - start + SMALL_VENSIM, repeat) < width)
    return where(np.equal(repeat, 0), where(single, magnitude, 0.0), where(train, magnitude, 0.0))


@register_jitable
def pulse_once(t, start, width, magnitude):
    """PySD's ``pulse`` with ``repeat_time`` 0 (PULSE): its first branch, without the modulo."""
    return where((start - SMALL_VENSIM <= t) & (t < start + width), magnitude, 0.0)


@register_jitable
def ramp(t, slope, start, finish):
    """RAMP(slope, start, finish); ``finish`` inf ramps for ever."""
    return (t + SMALL_VENSIM > start) * slope * (np.minimum(finish, t) - start)


@register_jitable
def quantum(a, b):
    """QUANTUM(a, b): ``b * INTEGER(a / b)``, or ``a`` when ``b`` is below Vensim's small number
    (``pysd.py_backend.functions.quantum``)."""
    return where(b < SMALL_VENSIM, a, b * np.trunc(a / b))


@register_jitable
def xidz(numerator, denominator, x):
    """XIDZ (and ZIDZ with ``x = 0``): ``x`` where ``|denominator| < SMALL_VENSIM``."""
    small = np.abs(denominator) < SMALL_VENSIM
    return where(small, x, numerator / where(small, 1.0, denominator))


@register_jitable
def lookup_interpolate(x, xs, ys):
    """A table, linear inside and flat beyond the ends (PySD's default)."""
    return np.interp(x, xs, ys)


@register_jitable
def lookup_extrapolate(x, xs, ys):
    """A table, linear inside and continued by its end segments beyond the ends."""
    low = ys[0] + (ys[1] - ys[0]) / (xs[1] - xs[0]) * (x - xs[0])
    high = ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (x - xs[-1])
    return where(x < xs[0], low, where(x > xs[-1], high, np.interp(x, xs, ys)))


@register_jitable
def lookup_hold_backward(x, xs, ys):
    """A table held at each point until the next."""
    i = np.searchsorted(xs, x, side="right") - 1
    return ys[np.minimum(np.maximum(i, 0), len(xs) - 1)]


@register_jitable
def link_score(partial_change, change, source_change):
    """The Loops That Matter link score ``|Δx z / Δz| * sign(Δx z / Δx)``, 0 where ``Δz`` or ``Δx`` is 0.

    The formula and its conventions are documented in :mod:`defdip.analysis.ltm` (Schoenberg,
    Hayward & Eberlein 2023); this is its one definition, for numbers in the generated
    ``link_scores`` kernel and, element-wise, for arrays (:func:`defdip.analysis.ltm.link_score`).
    A division by zero gives inf or NaN (numpy's error model), never an exception, and is
    replaced by 0 where the change it divides by is 0.
    """
    score = np.abs(partial_change / change) * np.sign(partial_change / source_change)
    return where((change == 0) | (source_change == 0), 0.0, score)


# -- random numbers: a counter-based stream per member ---------------------------------------
# Written by hand: a draw must depend only on (seed, member, step, call site), so that a member
# gets the same numbers in any batch, chunk or worker; numpy's generators are sequential
# objects that numba code cannot key per draw. SplitMix64's finaliser (Steele et al. 2014)
# mixes the counter; it is the seeding function of numpy's own generators.

@register_jitable
def mix(key, counter):
    """A 64-bit hash of ``key`` and ``counter`` (SplitMix64 finaliser) [uint64]."""
    z = (np.uint64(key) ^ (np.uint64(counter) * np.uint64(0x9E3779B97F4A7C15))) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@register_jitable
def uniform01(key, site):
    """A number in (0, 1) for one call site of one step of one member."""
    return (np.float64(mix(key, site) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@register_jitable
def random_uniform(low, high, key, site):
    """RANDOM UNIFORM(min, max, seed); the model's seed argument is ignored, as PySD does."""
    return low + (high - low) * uniform01(key, site)


@register_jitable
def random_normal(low, high, mean, sd, key, site):
    """RANDOM NORMAL(min, max, mean, sd, seed): a normal truncated to [min, max].

    Box-Muller pairs drawn until one lies in the bounds (at most 1000 tries, then the
    bound nearest the mean: bounds so tight are a modelling error, not a random draw).
    """
    for attempt in range(1000):
        u1 = uniform01(key, site * 2003 + 2 * attempt)
        u2 = uniform01(key, site * 2003 + 2 * attempt + 1)
        z = mean + sd * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        if low <= z <= high:
            return z
    return np.minimum(np.maximum(mean, low), high)


@register_jitable
def random_exponential(low, high, shift, stretch, key, site):
    """RANDOM EXPONENTIAL(min, max, shift, stretch, seed): shifted, stretched, truncated (inverse CDF)."""
    loc = np.maximum(low, shift)
    span = 1.0 - np.exp(-(high - loc) / stretch)
    return loc - stretch * np.log(1.0 - uniform01(key, site) * span)


@njit(cache=True)
def member_keys(seed, members):
    """One stream key per member, from the run's seed and the member's global index."""
    keys = np.empty(len(members), np.uint64)
    for i in range(len(members)):
        keys[i] = mix(mix(seed, 0), members[i])
    return keys


# the names the generated code calls them by
NAMESPACE = {"np": np, "_where": where, "_pulse": pulse, "_pulse_once": pulse_once, "_ramp": ramp, "_xidz": xidz,
             "_quantum": quantum,
             "_lookup_interpolate": lookup_interpolate, "_lookup_extrapolate": lookup_extrapolate,
             "_lookup_hold_backward": lookup_hold_backward, "_mix": mix,
             "_random_uniform": random_uniform, "_random_normal": random_normal,
             "_random_exponential": random_exponential, "_link_score": link_score}
