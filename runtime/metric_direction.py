"""Which way each logged metric improves, read from its name.

Shared by the offline report (its "best" columns) and the W&B logger (the run summary's best
values), so both agree on what "best" means.
"""

from __future__ import annotations


def best_mode(key: str) -> str | None:
    """Which way a metric improves: ``"max"``, ``"min"`` or ``None`` (no best: counters, logits).

    Read from the last part of the key (after the last ``/``), split at ``_``:

    - ``max``: accuracies (a part ``acc`` / ``accuracy``: ``acc_both_pairs``,
      ``stargan_target_acc``) and face detection (first part ``face`` or ``detect``:
      ``face_detect_rate``, ``face_grid_count``, ``face_grid_pass``);
    - ``min``: losses and distances (a part ``loss``, ``fid``, ``kid``, ``fcd``, ``kcd``, ``nll``,
      ``bpd``, ``l1``, or ``bits_per_dim``: ``train/d_loss``, ``val/bits_per_dim``,
      ``stargan_rec_l1``);
    - ``None`` for everything else and for spreads (a part ``std``: ``kid_std``).
    """
    name = key.rsplit("/", 1)[-1].lower()
    parts = name.split("_")
    if "std" in parts:
        return None
    if parts[0] in ("face", "detect") or {"acc", "accuracy"} & set(parts):
        return "max"
    if "bits_per_dim" in name or {"loss", "fid", "kid", "fcd", "kcd", "nll", "bpd", "l1"} & set(
        parts
    ):
        return "min"
    return None
