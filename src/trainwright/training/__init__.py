"""The neural training loop: ``fit`` (level 1 for a network), ``Trainer`` and its ``step`` (your own loop),
``LoopConfig`` (the recipe's ``train:`` settings), optimizers, schedules, regularizers, callbacks,
checkpoints and data-parallel training.

Example:
    >>> import torch
    >>> from trainwright.training import LoopConfig, Trainer
    >>> model = torch.nn.Linear(3, 2)
    >>> trainer = Trainer(model, LoopConfig(), task="classification", n_classes=2, steps_per_epoch=1)
    >>> float(trainer.step(torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]))) > 0
    True

Names load on first use: importing the settings (``training.config``) never imports torch.
"""

from __future__ import annotations

from trainwright.exports import lazy_exports

_EXPORTS = {
    "LoopConfig": "trainwright.training.config",
    "Trainer": "trainwright.training.loop",
    "FitResult": "trainwright.training.loop",
    "fit": "trainwright.training.loop",
    "TrainState": "trainwright.training.callbacks",
    "Callback": "trainwright.training.callbacks",
    "build_optimizer": "trainwright.training.optim",
    "build_schedule": "trainwright.training.schedules",
    "find_lr": "trainwright.training.lr_finder",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
