"""Find the images whose size is not the data set's usual one: likely files that do not belong.

Every image is resized to the training size, so a stray photo, thumbnail or screenshot in a
folder of 96×96 faces would train silently. The image cache warns about such files by name.
"""

from __future__ import annotations

import numpy as np

MISSING = -1  # the size recorded for a file that could not be read


def odd_sizes(sizes: np.ndarray) -> tuple[tuple[int, int], np.ndarray] | None:
    """The usual ``(height, width)`` of ``sizes`` (int ``(N, 2)``; rows of ``MISSING`` are left
    out) and the indices of the rows of any other size; None when every image has the usual size
    or no size covers more than half of them (a set of mixed sizes by design)."""
    known = np.flatnonzero((sizes != MISSING).all(axis=1))
    if not len(known):
        return None
    values, counts = np.unique(sizes[known], axis=0, return_counts=True)
    usual = values[counts.argmax()]
    if counts.max() == len(known) or 2 * counts.max() <= len(known):
        return None
    odd = known[(sizes[known] != usual).any(axis=1)]
    return (int(usual[0]), int(usual[1])), odd
