"""The neural loop's settings, without torch: recipes, `trainwright schema` and `init` validate them without
paying torch's import (about 2 s). The modules that act on them (optim, regularize, loop) import them from here.

An optimizer's settings are one config class per family of ``type`` (``OptimizerConfig`` is their union,
discriminated on ``type``), so a setting the chosen type does not use, such as ``momentum`` under
``type: adam``, is an error rather than silently ignored."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, Optional, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, TypeAdapter, field_validator, model_validator

from trainwright.config.base import with_default_type
from trainwright.training.callbacks import EarlyStoppingConfig
from trainwright.training.schedules import DEFAULT_SCHEDULE, ScheduleConfig, schedule_config

__all__ = ["OptimizerConfig", "optimizer_config", "DEFAULT_OPTIMIZER", "OPTIMIZER_CONFIGS", "BaseOptimizerConfig",
           "SGDConfig", "AdamConfig", "RMSpropConfig", "AdagradConfig", "AugmentConfig", "RegularizeConfig", "CheckpointConfig",
           "LogConfig", "LoopConfig"]

DEFAULT_OPTIMIZER = "adamw"  # what an optimizer without `type` means: every default is the best-practice choice

_TYPE = ("Update rule. adamw, radam, nadam and adabelief decay weights decoupled from the gradient (Loshchilov & "
         "Hutter); sgd, adam, rmsprop and adagrad add it to the gradient as an L2 term, as torch does.")
# Settings that several families share: one description each.
Momentum = Annotated[float, Field(ge=0, lt=1, description="Momentum, for sgd and rmsprop.")]
Eps = Annotated[float, Field(gt=0, description="Added to denominators for numerical stability (adabelief uses "
                                               "eps**2, as its authors advise: 1e-16 there matches Adam's 1e-8).")]


class BaseOptimizerConfig(BaseModel):
    """Settings every optimizer has. Abstract: a recipe picks one subclass by ``type``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: str
    lr: Union[float, Literal["auto"]] = Field(
        1e-3, description="Learning rate (peak rate before any schedule); 'auto' runs the LR finder on the "
                          "training rows first and uses its suggestion.")
    weight_decay: float = Field(
        1e-4, ge=0, description="Weight decay; never applied to biases or normalisation parameters "
                                "(parameters with fewer than 2 dimensions).")
    lookahead: bool = Field(False, description="Wrap the optimizer in Lookahead (Zhang et al. 2019): every "
                                               "lookahead_k steps, pull slow weights towards the fast ones.")
    lookahead_k: int = Field(5, ge=1, description="Lookahead: fast steps between synchronisations.")
    lookahead_alpha: float = Field(0.5, gt=0, le=1, description="Lookahead: slow-weight step size.")
    layer_lr_decay: float = Field(
        1.0, gt=0, le=1, description="Discriminative learning rates: the last layer group (the model's last "
                                     "top-level child with parameters) gets lr, the one before lr*decay, the "
                                     "one before that lr*decay**2, and so on. 1.0 = the same lr everywhere.")

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, value):
        if value != "auto" and not value > 0:
            raise ValueError(f"train.optimizer.lr must be > 0 or 'auto', got {value}")
        return value


class SGDConfig(BaseOptimizerConfig):
    """Stochastic gradient descent, with (Nesterov) momentum.

    Raises:
        pydantic.ValidationError: nesterov without momentum, or a value out of range.

    Example:
        >>> SGDConfig(lr=0.1, nesterov=True).momentum
        0.9
    """

    type: Literal["sgd"] = Field("sgd", description=_TYPE)
    momentum: Momentum = 0.9
    nesterov: bool = Field(False, description="Nesterov momentum, for sgd (needs momentum > 0).")

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> "SGDConfig":
        if self.nesterov and self.momentum <= 0:
            raise ValueError("optimizer.nesterov=true requires optimizer.momentum > 0, got "
                             f"{self.momentum}; set momentum (e.g. 0.9) or nesterov=false")
        return self


class AdamConfig(BaseOptimizerConfig):
    """The Adam family: adam, adamw (the default), radam, nadam and adabelief.

    Raises:
        pydantic.ValidationError: a beta outside [0, 1), or a value out of range.

    Example:
        >>> AdamConfig(type="radam", betas=(0.9, 0.99)).eps
        1e-08
    """

    type: Literal["adam", "adamw", "radam", "nadam", "adabelief"] = Field("adamw", description=_TYPE)
    betas: tuple[float, float] = Field(
        (0.9, 0.999), description="Decay rates of the first and second moment estimates (adam family, adabelief).")
    eps: Eps = 1e-8

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, value):
        if not all(0 <= b < 1 for b in value):
            raise ValueError(f"optimizer.betas must both lie in [0, 1), got {list(value)}")
        return value


class RMSpropConfig(BaseOptimizerConfig):
    """RMSprop, with momentum."""

    type: Literal["rmsprop"] = Field("rmsprop", description=_TYPE)
    momentum: Momentum = 0.9
    eps: Eps = 1e-8


class AdagradConfig(BaseOptimizerConfig):
    """Adagrad."""

    type: Literal["adagrad"] = Field("adagrad", description=_TYPE)
    eps: Eps = 1e-8


# The union a recipe's `optimizer:` validates into; pydantic picks the member by `type`.
OptimizerConfig = Annotated[Union[SGDConfig, AdamConfig, RMSpropConfig, AdagradConfig], Field(discriminator="type")]

# type name -> config class, read from the members' `type` literals (the one list of names).
OPTIMIZER_CONFIGS: dict[str, type[BaseOptimizerConfig]] = {
    name: cls for cls in get_args(get_args(OptimizerConfig)[0])
    for name in get_args(cls.model_fields["type"].annotation)}


@cache
def _adapter() -> TypeAdapter:
    return TypeAdapter(OptimizerConfig)


def optimizer_config(**settings: Any) -> OptimizerConfig:
    """Build the optimizer config of ``settings["type"]`` (default ``DEFAULT_OPTIMIZER``, adamw).

    Args:
        **settings: the fields of one optimizer type, as a recipe's ``optimizer:`` section holds them.

    Returns:
        The member of ``OptimizerConfig`` that ``type`` names.

    Raises:
        pydantic.ValidationError: unknown type, a value out of range, or a setting the type does not have.

    Example:
        >>> sgd = optimizer_config(type="sgd", lr=0.1, nesterov=True)
        >>> type(sgd).__name__, sgd.momentum
        ('SGDConfig', 0.9)
        >>> optimizer_config(lr=0.01).type
        'adamw'
        >>> from pydantic import ValidationError
        >>> try:
        ...     optimizer_config(type="adam", momentum=0.5)
        ... except ValidationError as err:
        ...     print(err.errors()[0]["type"], err.errors()[0]["loc"])
        extra_forbidden ('adam', 'momentum')
    """
    return _adapter().validate_python({"type": DEFAULT_OPTIMIZER, **settings})


class AugmentConfig(BaseModel):
    """Image augmentation of each training batch (inputs (batch, channels, height, width) scaled to [0, 1]),
    drawn per image on the batch tensor (``training.augment``); validation, test and prediction rows are never
    augmented. MixUp and CutMix are ``train.regularize.mixup_alpha`` / ``cutmix_alpha``.

    Example:
        >>> AugmentConfig(hflip=0.5, rotate=10).active
        True
    """

    model_config = ConfigDict(extra="forbid")

    hflip: float = Field(0.0, ge=0, le=1, description="Probability of a horizontal (left-right) flip.")
    vflip: float = Field(0.0, ge=0, le=1, description="Probability of a vertical (upside-down) flip.")
    rotate: float = Field(0.0, ge=0, le=180, description="Largest rotation in degrees (uniform in +-rotate).")
    crop_scale: float = Field(1.0, gt=0, le=1, description=(
        "Random resized crop: the smallest share of the image's area kept (aspect ratio 3/4 to 4/3), resized back "
        "to the full size. 1: no cropping."))
    brightness: float = Field(0.0, ge=0, le=1, description="Colour jitter: add a uniform shift in +-brightness.")
    contrast: float = Field(0.0, ge=0, le=1, description="Colour jitter: scale contrast by a factor in 1 +- contrast.")
    saturation: float = Field(0.0, ge=0, le=1, description=(
        "Colour jitter: scale saturation by a factor in 1 +- saturation (colour images only)."))
    noise: float = Field(0.0, ge=0, description="Gaussian noise of this standard deviation added to every pixel.")
    erase: float = Field(0.0, ge=0, le=1, description=(
        "Cutout / random erasing: probability of blanking one box of 2-25% of the image (aspect 0.3 to 3.3)."))
    policy: Literal["none", "trivial"] = Field("none", description=(
        "trivial: TrivialAugment (Mueller & Hutter 2021): each image gets one operation, drawn uniformly, at a "
        "uniform magnitude: identity, rotate, shear x/y, translate x/y, brightness, contrast, solarize, "
        "autocontrast."))

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return (self.crop_scale < 1 or self.policy != "none"
                or any(getattr(self, k) > 0 for k in ("hflip", "vflip", "rotate", "brightness", "contrast",
                                                     "saturation", "noise", "erase")))


class RegularizeConfig(BaseModel):
    """Regularization switches of the neural loop; every default is off (no change to training).

    Example:
        >>> RegularizeConfig(label_smoothing=0.1, mixup_alpha=0.2).mixup_alpha
        0.2
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="Classification only: share of each target moved evenly onto all classes.")
    l1: float = Field(0.0, ge=0, description="Weight of the L1 penalty, sum of |w| over weight matrices (not biases or norms).")
    l2: float = Field(
        0.0, ge=0,
        description="Weight of an explicit L2 penalty, sum of w^2 over weight matrices; added to the optimizer's weight decay.")
    input_noise: float = Field(
        0.0, ge=0, description="Std of Gaussian noise added to training inputs (features are standardised, so ~0.05-0.2).")
    mixup_alpha: float = Field(
        0.0, ge=0, description="MixUp: > 0 mixes pairs of training rows and their targets with weight ~ Beta(alpha, alpha).")
    cutmix_alpha: float = Field(
        0.0, ge=0, description="CutMix (image inputs only): > 0 pastes a box from another image, area share ~ Beta(alpha, alpha).")
    adversarial: Literal["none", "fgsm", "pgd"] = Field(
        "none", description="Train on adversarial inputs made by FGSM (one signed-gradient step) or PGD (several, projected).")
    adversarial_eps: float = Field(0.05, gt=0, description="L-infinity radius of the adversarial perturbation.")
    pgd_steps: int = Field(3, ge=1, description="PGD: gradient steps per batch.")
    pgd_step_size: float = Field(0.02, gt=0, description="PGD: size of each signed-gradient step.")
    ema_decay: float = Field(
        0.0, ge=0, lt=1,
        description="> 0: keep an exponential moving average of the weights (e.g. 0.999); evaluate and save the average.")
    swa_start_epoch: int = Field(
        0, ge=0, description="> 0: stochastic weight averaging of the weights at each epoch end from this epoch on; 0 = off.")


class CheckpointConfig(BaseModel):
    """Checkpoints written into the run for ``--resume`` (``train.checkpoint``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="Write checkpoints into the run (for --resume).")
    every_steps: int = Field(0, ge=0, description="Checkpoint every N optimizer steps; 0: at every epoch end.")
    keep_last: int = Field(2, ge=1, description="Checkpoints kept; older ones are deleted.")


class LogConfig(BaseModel):
    """Optional loggers of the loop (``train.log``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tensorboard: bool = Field(False, description="Write TensorBoard scalars into the run's tensorboard/ folder.")
    mlflow: bool = Field(False, description="Log metrics to MLflow's active tracking target.")


class LoopConfig(BaseModel):
    """How neural models train (the recipe's ``train:`` section; learners that do not train with the loop
    ignore it).

    Example:
        >>> cfg = LoopConfig(epochs=20, optimizer={"type": "sgd", "lr": 0.1}, schedule={"type": "cosine"})
        >>> cfg.optimizer.momentum, cfg.schedule.type
        (0.9, 'cosine')
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(300, ge=1, description="Most passes over the training rows; early stopping usually ends sooner.")
    batch_size: Union[PositiveInt, Literal["auto"]] = Field(
        "auto", description="Rows per mini-batch. 'auto': training rows / 16, between 32 and 256.")
    optimizer: OptimizerConfig = Field(default_factory=optimizer_config, description="The optimizer.")
    schedule: ScheduleConfig = Field(default_factory=schedule_config,
                                     description="The learning-rate schedule (with optional linear warmup).")
    regularize: RegularizeConfig = Field(default_factory=RegularizeConfig, description="Regularization techniques.")
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="Image augmentation of training batches.")
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig, description="Early stopping.")
    clip_grad_norm: Optional[float] = Field(None, gt=0, description="Clip the global gradient norm to this value.")
    clip_grad_value: Optional[float] = Field(None, gt=0, description="Clip each gradient element to +-this value.")
    accumulate: int = Field(1, ge=1, description="Micro-batches whose gradients add up before one optimizer step.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="'auto': fp32 on CPU; bf16 on CUDA where supported, else fp16 with a gradient scaler. "
                            "bf16 autocast works on CPU too; fp16 needs CUDA.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward to save memory.")
    compile: bool = Field(False, description="torch.compile the model.")
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig, description="Checkpoints for resume.")
    log: LogConfig = Field(default_factory=LogConfig, description="Optional loggers.")
    nproc: int = Field(1, ge=1, description="Data-parallel processes (DistributedDataParallel; gloo on CPU, NCCL on CUDA).")

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer_type_default(cls, value):
        # `optimizer: {lr: 0.01}` means the default optimizer (adamw) with one change.
        return with_default_type(value, DEFAULT_OPTIMIZER)

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_type_default(cls, value):
        # `schedule: {patience: 3}` means the default schedule (plateau) with one change.
        return with_default_type(value, DEFAULT_SCHEDULE)

    @model_validator(mode="after")
    def _checks(self) -> "LoopConfig":
        if self.clip_grad_norm and self.clip_grad_value:
            raise ValueError("set train.clip_grad_norm or train.clip_grad_value, not both")
        return self
