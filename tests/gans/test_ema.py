"""EMA update formula."""

import torch
from torch import nn
from torch.testing import assert_close

from gans.ema import ema_update


def test_ema_update_formula_and_buffers():
    model, ema = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(2.0)
        ema.weight.fill_(0.0)
        model.running_mean.fill_(5.0)
    ema_update(ema, model, decay=0.75)
    assert_close(ema.weight, torch.full((3,), 0.5))
    assert_close(ema.running_mean, torch.full((3,), 5.0))
