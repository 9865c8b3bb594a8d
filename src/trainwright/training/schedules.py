"""Learning-rate schedules: linear warmup, then one schedule, as closed-form functions of the step.

Every schedule except ``plateau`` gives the rate of optimizer step ``t`` as
``lr * factor(t)``, so a resumed run only needs the step counter to continue
exactly. Warmup comes first: ``warmup_steps`` optimizer steps rising linearly
from ``lr * warmup_start_factor`` to ``lr``; the schedule's own clock starts
when warmup ends, and schedules with a horizon (cosine, onecycle) end with the
last step of training. Epoch lengths are in optimizer steps (``steps_per_epoch``).

A schedule's settings are one config class per ``type`` (``ScheduleConfig`` is
their union, discriminated on ``type``), so a setting of another type, such as
``step_size`` under ``type: cosine``, is an error rather than silently ignored.

Example:
    >>> curve = lr_curve(schedule_config(type="cosine", warmup_steps=2), lr=1.0, steps_per_epoch=5, epochs=2)
    >>> [round(x, 3) for x in curve]
    [0.01, 0.505, 1.0, 0.962, 0.854, 0.691, 0.5, 0.309, 0.146, 0.038]
"""

from __future__ import annotations

import math
from functools import cache
from typing import Annotated, Any, Callable, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from trainwright.errors import ConfigError
from trainwright.registry import Registry

__all__ = ["ScheduleConfig", "schedule_config", "DEFAULT_SCHEDULE", "SCHEDULE_CONFIGS", "BaseScheduleConfig",
           "ConstantScheduleConfig", "StepScheduleConfig", "ExponentialScheduleConfig", "CosineScheduleConfig",
           "CosineRestartsScheduleConfig", "CyclicalScheduleConfig", "OneCycleScheduleConfig",
           "PlateauScheduleConfig", "SCHEDULES", "Schedule", "build_schedule", "lr_curve"]

DEFAULT_SCHEDULE = "plateau"  # what a schedule without `type` means (the loop's default)

_TYPE = "Shape of the learning-rate curve after warmup."
# Settings that several types share: one description each.
Gamma = Annotated[float, Field(gt=0, le=1, description="Decay factor: step and plateau multiply lr by it at each "
                                                       "decay; exponential multiplies lr by it every epoch, "
                                                       "smoothly per step (use about 0.9-0.99 there).")]
MinLrFactor = Annotated[float, Field(ge=0, lt=1, description="Floor of cosine, cosine_restarts and plateau, and "
                                                             "the final rate of onecycle, as a fraction of lr.")]


class BaseScheduleConfig(BaseModel):
    """Settings every schedule has: linear warmup. Abstract: a recipe picks one subclass by ``type``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: str
    warmup_steps: int = Field(0, ge=0, description="Optimizer steps of linear warmup from lr*warmup_start_factor "
                                                   "to lr, before any schedule.")
    warmup_start_factor: float = Field(0.01, ge=0, le=1, description="Warmup's first rate, as a fraction of lr.")


class ConstantScheduleConfig(BaseScheduleConfig):
    """lr throughout (after warmup)."""

    type: Literal["constant"] = Field("constant", description=_TYPE)


class StepScheduleConfig(BaseScheduleConfig):
    """lr times gamma every step_size epochs."""

    type: Literal["step"] = Field("step", description=_TYPE)
    step_size: int = Field(30, ge=1, description="step: epochs between decays by gamma.")
    gamma: Gamma = 0.1


class ExponentialScheduleConfig(BaseScheduleConfig):
    """lr times gamma per epoch, applied smoothly at every step."""

    type: Literal["exponential"] = Field("exponential", description=_TYPE)
    gamma: Gamma = 0.1


class CosineScheduleConfig(BaseScheduleConfig):
    """Half a cosine from lr down to lr*min_lr_factor at the last step of training."""

    type: Literal["cosine"] = Field("cosine", description=_TYPE)
    min_lr_factor: MinLrFactor = 0.0


class CosineRestartsScheduleConfig(BaseScheduleConfig):
    """Cosine annealing that restarts at lr, each period restart_mult times the last (SGDR)."""

    type: Literal["cosine_restarts"] = Field("cosine_restarts", description=_TYPE)
    restart_epochs: int = Field(10, ge=1, description="cosine_restarts: length of the first period, in epochs.")
    restart_mult: int = Field(2, ge=1, description="cosine_restarts: each period is this many times the last.")
    min_lr_factor: MinLrFactor = 0.0


class CyclicalScheduleConfig(BaseScheduleConfig):
    """A triangle between lr*base_lr_factor and lr, repeated every cycle_epochs."""

    type: Literal["cyclical"] = Field("cyclical", description=_TYPE)
    cycle_epochs: float = Field(4.0, gt=0, description="cyclical (triangular): length of one full cycle (up and "
                                                       "down), in epochs.")
    base_lr_factor: float = Field(0.1, gt=0, le=1, description="cyclical: lower bound as a fraction of lr (the "
                                                               "upper bound is lr).")


class OneCycleScheduleConfig(BaseScheduleConfig):
    """Up from lr to lr*max_lr_factor, then down to lr*min_lr_factor at the last step (Smith 2018).

    Example:
        >>> OneCycleScheduleConfig(pct_start=0.25).max_lr_factor
        10.0
    """

    type: Literal["onecycle"] = Field("onecycle", description=_TYPE)
    max_lr_factor: float = Field(10.0, ge=1, description="onecycle: peak rate as a multiple of lr. lr is the "
                                                         "starting rate, so with lr from the LR finder the cycle "
                                                         "spans the decade above it, as Smith (2018) advises.")
    pct_start: float = Field(0.3, gt=0, lt=1, description="onecycle: share of the steps spent rising to the peak.")
    min_lr_factor: MinLrFactor = 0.0


class PlateauScheduleConfig(BaseScheduleConfig):
    """lr times gamma whenever the validation metric stalls for more than patience epochs (the default)."""

    type: Literal["plateau"] = Field("plateau", description=_TYPE)
    patience: int = Field(5, ge=0, description="plateau: epochs without improvement of the metric (lower is "
                                               "better) tolerated; the next one multiplies lr by gamma.")
    gamma: Gamma = 0.1
    min_lr_factor: MinLrFactor = 0.0


# The union a recipe's `schedule:` validates into; pydantic picks the member by `type`.
ScheduleConfig = Annotated[
    Union[ConstantScheduleConfig, StepScheduleConfig, ExponentialScheduleConfig, CosineScheduleConfig,
          CosineRestartsScheduleConfig, CyclicalScheduleConfig, OneCycleScheduleConfig, PlateauScheduleConfig],
    Field(discriminator="type")]

# type name -> config class, read from the members' `type` literals (the one list of names).
SCHEDULE_CONFIGS: dict[str, type[BaseScheduleConfig]] = {
    name: cls for cls in get_args(get_args(ScheduleConfig)[0])
    for name in get_args(cls.model_fields["type"].annotation)}


@cache
def _adapter() -> TypeAdapter:
    return TypeAdapter(ScheduleConfig)


def schedule_config(**settings: Any) -> ScheduleConfig:
    """Build the schedule config of ``settings["type"]`` (default ``DEFAULT_SCHEDULE``, plateau).

    Args:
        **settings: the fields of one schedule type, as a recipe's ``schedule:`` section holds them.

    Returns:
        The member of ``ScheduleConfig`` that ``type`` names.

    Raises:
        pydantic.ValidationError: unknown type, a value out of range, or a setting the type does not have.

    Example:
        >>> type(schedule_config(type="step", step_size=2)).__name__
        'StepScheduleConfig'
        >>> schedule_config(patience=3).type
        'plateau'
        >>> from pydantic import ValidationError
        >>> try:
        ...     schedule_config(type="cosine", step_size=3)
        ... except ValidationError as err:
        ...     print(err.errors()[0]["type"], err.errors()[0]["loc"])
        extra_forbidden ('cosine', 'step_size')
    """
    return _adapter().validate_python({"type": DEFAULT_SCHEDULE, **settings})


def _cosine(frac: float, start: float, end: float) -> float:
    """Half a cosine from ``start`` (frac 0) to ``end`` (frac 1)."""
    frac = min(max(frac, 0.0), 1.0)
    return end + (start - end) * (1 + math.cos(math.pi * frac)) / 2


# ---- shapes: factor of lr at step t after warmup, given the steps left after warmup (horizon).
Shape = Callable[[int, Any, int, int], float]


def _constant(t: int, c: BaseScheduleConfig, horizon: int, spe: int) -> float:
    return 1.0


def _step(t: int, c: StepScheduleConfig, horizon: int, spe: int) -> float:
    return c.gamma ** (t // (c.step_size * spe))


def _exponential(t: int, c: ExponentialScheduleConfig, horizon: int, spe: int) -> float:
    return c.gamma ** (t / spe)


def _cosine_shape(t: int, c: CosineScheduleConfig, horizon: int, spe: int) -> float:
    return _cosine(t / horizon, 1.0, c.min_lr_factor)


def _cosine_restarts(t: int, c: CosineRestartsScheduleConfig, horizon: int, spe: int) -> float:
    period = c.restart_epochs * spe
    if c.restart_mult == 1:
        start = (t // period) * period
    else:
        start = 0
        while t >= start + period:
            start, period = start + period, period * c.restart_mult
    return _cosine((t - start) / period, 1.0, c.min_lr_factor)


def _cyclical(t: int, c: CyclicalScheduleConfig, horizon: int, spe: int) -> float:
    cycle = c.cycle_epochs * spe
    frac = (t % cycle) / cycle
    return c.base_lr_factor + (1 - c.base_lr_factor) * (1 - abs(2 * frac - 1))


def _onecycle(t: int, c: OneCycleScheduleConfig, horizon: int, spe: int) -> float:
    rise = c.pct_start * horizon
    if t < rise:
        return _cosine(t / rise, 1.0, c.max_lr_factor)
    return _cosine((t - rise) / (horizon - rise), c.max_lr_factor, c.min_lr_factor)


# Names in the order of SCHEDULE_CONFIGS (the config classes' `type` literals); a test checks they agree.
SCHEDULES: Registry = Registry("schedule")
for _name, _shape in (("constant", _constant), ("step", _step), ("exponential", _exponential),
                      ("cosine", _cosine_shape), ("cosine_restarts", _cosine_restarts), ("cyclical", _cyclical),
                      ("onecycle", _onecycle), ("plateau", _constant)):
    SCHEDULES.register(_name, _shape)
del _name, _shape


def _factor(config: ScheduleConfig, shape: Shape, t: int, steps_per_epoch: int, total: int) -> float:
    """Multiple of lr at optimizer step ``t``: warmup, then the schedule's shape."""
    warmup = config.warmup_steps
    if t < warmup:
        return config.warmup_start_factor + (1 - config.warmup_start_factor) * t / warmup
    return shape(t - warmup, config, total - warmup, steps_per_epoch)


def _check(config: ScheduleConfig, steps_per_epoch: int, epochs: int) -> Shape:
    shape = SCHEDULES.get(config.type)
    if steps_per_epoch < 1 or epochs < 1:
        raise ConfigError(f"a schedule needs steps_per_epoch >= 1 and epochs >= 1, got "
                          f"steps_per_epoch={steps_per_epoch}, epochs={epochs}")
    total = steps_per_epoch * epochs
    if config.warmup_steps >= total:
        raise ConfigError(f"schedule.warmup_steps must be smaller than the {total} optimizer steps of training "
                          f"({epochs} epochs x {steps_per_epoch} steps), got {config.warmup_steps}; "
                          f"lower it or train longer", path="schedule.warmup_steps")
    return shape


class Schedule:
    """Drives the learning rates of an optimizer.

    The loop calls ``step_batch()`` after every optimizer step and
    ``step_epoch(metric)`` at each epoch end. Per-step schedules are closed-form
    functions of the global step (so resume is exact); ``plateau`` reacts to the
    metric (lower is better: pass a loss, or a negated score). Each parameter
    group keeps its own base rate (its ``initial_lr``, as torch's schedulers
    store it), so discriminative learning rates keep their ratios.

    Args:
        optimizer: a torch optimizer (or ``Lookahead``); its current rates are the base rates.
        config: the schedule section of a recipe.
        steps_per_epoch: optimizer steps per epoch (after gradient accumulation).
        epochs: planned epochs; cosine and onecycle end with the last step.

    Raises:
        ConfigError: unknown type, or warmup as long as training.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> sched = Schedule(opt, schedule_config(type="step", step_size=1, gamma=0.5), steps_per_epoch=2,
        ...                  epochs=3)
        >>> for _ in range(2):
        ...     opt.step(); sched.step_batch()
        >>> sched.lrs()
        [0.5]
    """

    def __init__(self, optimizer, config: ScheduleConfig, *, steps_per_epoch: int, epochs: int) -> None:
        self._shape = _check(config, steps_per_epoch, epochs)
        self.optimizer, self.config = optimizer, config
        self.steps_per_epoch, self.epochs = int(steps_per_epoch), int(epochs)
        self.total_steps = self.steps_per_epoch * self.epochs
        self.base_lrs = [float(g.setdefault("initial_lr", g["lr"])) for g in optimizer.param_groups]
        self.steps, self.epoch = 0, 0
        self.scale, self.best, self.bad_epochs = 1.0, None, 0  # plateau's state
        self._apply()

    def _apply(self) -> None:
        factor = self.scale * _factor(self.config, self._shape, self.steps, self.steps_per_epoch, self.total_steps)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor

    def step_batch(self) -> None:
        """Advance one optimizer step and set the rates for the next one."""
        self.steps += 1
        self._apply()

    def step_epoch(self, metric: float | None = None) -> None:
        """Mark the end of an epoch; ``plateau`` compares ``metric`` (lower is better) with the best so far.

        Raises:
            ConfigError: ``plateau`` was given no metric.
        """
        self.epoch += 1
        if self.config.type != "plateau":
            return
        if metric is None:
            raise ConfigError("schedule.type=plateau needs a metric at each epoch end (a validation set); "
                              "use another schedule when training without one", path="schedule.type")
        metric = float(metric)
        if self.best is None or metric < self.best - 1e-4 * abs(self.best):  # torch's relative threshold
            self.best, self.bad_epochs = metric, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.config.patience:
            self.scale = max(self.scale * self.config.gamma, self.config.min_lr_factor)
            self.bad_epochs = 0
            self._apply()

    def lrs(self) -> list[float]:
        """The current learning rate of each parameter group."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything needed to resume, as plain Python numbers."""
        return {"type": self.config.type, "steps": self.steps, "epoch": self.epoch, "base_lrs": list(self.base_lrs),
                "scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``'s output and set the optimizer's rates to match.

        Raises:
            ConfigError: the state is from another schedule type or another number of parameter groups.
        """
        if state["type"] != self.config.type:
            raise ConfigError(f"cannot resume a '{state['type']}' schedule as schedule.type={self.config.type}; "
                              "resume with the recipe the run was started with", path="schedule.type")
        if len(state["base_lrs"]) != len(self.optimizer.param_groups):
            raise ConfigError(f"the saved schedule drives {len(state['base_lrs'])} parameter groups, the optimizer "
                              f"has {len(self.optimizer.param_groups)}; resume with the same model and optimizer")
        self.steps, self.epoch = int(state["steps"]), int(state["epoch"])
        self.base_lrs = [float(x) for x in state["base_lrs"]]
        self.scale, self.bad_epochs = float(state["scale"]), int(state["bad_epochs"])
        self.best = None if state["best"] is None else float(state["best"])
        self._apply()


def build_schedule(optimizer, config: ScheduleConfig, *, steps_per_epoch: int, epochs: int) -> Schedule:
    """Build the ``Schedule`` a config asks for; it sets the optimizer's first rates at once.

    Args:
        optimizer: a torch optimizer (or ``Lookahead``) whose group rates are the base rates.
        config: the schedule section of a recipe.
        steps_per_epoch: optimizer steps per epoch.
        epochs: planned epochs.

    Returns:
        The schedule, at step 0.

    Raises:
        ConfigError: unknown type, or ``warmup_steps`` not smaller than the total steps.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> build_schedule(opt, schedule_config(type="cosine", warmup_steps=10, warmup_start_factor=0.5),
        ...                steps_per_epoch=10, epochs=2).lrs()
        [0.05]
    """
    return Schedule(optimizer, config, steps_per_epoch=steps_per_epoch, epochs=epochs)


def lr_curve(config: ScheduleConfig, *, lr: float, steps_per_epoch: int, epochs: int) -> list[float]:
    """The learning rate at every optimizer step, for plots and tests (``plateau``: no reductions).

    Args:
        config: the schedule.
        lr: the base learning rate.
        steps_per_epoch: optimizer steps per epoch.
        epochs: epochs.

    Returns:
        ``steps_per_epoch * epochs`` rates; entry ``t`` is the rate used by optimizer step ``t``.

    Raises:
        ConfigError: as ``build_schedule``.

    Example:
        >>> lr_curve(schedule_config(type="step", step_size=1, gamma=0.5), lr=1.0, steps_per_epoch=2, epochs=3)
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    shape = _check(config, steps_per_epoch, epochs)
    total = steps_per_epoch * epochs
    return [lr * _factor(config, shape, t, steps_per_epoch, total) for t in range(total)]
