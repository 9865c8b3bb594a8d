"""The neural loop's settings, without torch: recipes, `trainwright schema` and `init` validate them without
paying torch's import (about 2 s). The modules that act on them (optim, regularize, loop) import them from here."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainwright.training.callbacks import EarlyStoppingConfig
from trainwright.training.schedules import ScheduleConfig

__all__ = ["OptimizerConfig", "RegularizeConfig", "CheckpointConfig", "LogConfig", "LoopConfig"]

class OptimizerConfig(BaseModel):
    """How the network's weights are updated. Every default is the best-practice choice (AdamW).

    Raises:
        pydantic.ValidationError: a value is out of range, or sgd asks for nesterov without momentum
            (a recipe reports it as a ``ConfigError`` naming the key).

    Example:
        >>> OptimizerConfig(type="sgd", lr=0.1, nesterov=True).momentum
        0.9
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "radam", "nadam", "adabelief"] = Field(
        "adamw", description="Update rule. adamw, radam, nadam and adabelief decay weights decoupled from the "
                             "gradient (Loshchilov & Hutter); sgd, adam, rmsprop and adagrad add it to the gradient "
                             "as an L2 term, as torch does.")
    lr: Union[float, Literal["auto"]] = Field(
        1e-3, description="Learning rate (peak rate before any schedule); 'auto' runs the LR finder on the "
                          "training rows first and uses its suggestion.")

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, value):
        if value != "auto" and not value > 0:
            raise ValueError(f"train.optimizer.lr must be > 0 or 'auto', got {value}")
        return value
    weight_decay: float = Field(
        1e-4, ge=0, description="Weight decay; never applied to biases or normalisation parameters "
                                "(parameters with fewer than 2 dimensions).")
    momentum: float = Field(0.9, ge=0, lt=1, description="Momentum, for sgd and rmsprop.")
    nesterov: bool = Field(False, description="Nesterov momentum, for sgd (needs momentum > 0).")
    betas: tuple[float, float] = Field(
        (0.9, 0.999), description="Decay rates of the first and second moment estimates (adam family, adabelief).")
    eps: float = Field(1e-8, gt=0, description="Added to denominators for numerical stability (adabelief uses "
                                               "eps**2, as its authors advise: 1e-16 there matches Adam's 1e-8).")
    lookahead: bool = Field(False, description="Wrap the optimizer in Lookahead (Zhang et al. 2019): every "
                                               "lookahead_k steps, pull slow weights towards the fast ones.")
    lookahead_k: int = Field(5, ge=1, description="Lookahead: fast steps between synchronisations.")
    lookahead_alpha: float = Field(0.5, gt=0, le=1, description="Lookahead: slow-weight step size.")
    layer_lr_decay: float = Field(
        1.0, gt=0, le=1, description="Discriminative learning rates: the last layer group (the model's last "
                                     "top-level child with parameters) gets lr, the one before lr*decay, the "
                                     "one before that lr*decay**2, and so on. 1.0 = the same lr everywhere.")

    @model_validator(mode="after")
    def _consistent(self) -> "OptimizerConfig":
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"optimizer.betas must both lie in [0, 1), got {list(self.betas)}")
        if self.type == "sgd" and self.nesterov and self.momentum <= 0:
            raise ValueError("optimizer.nesterov=true requires optimizer.momentum > 0, got "
                             f"{self.momentum}; set momentum (e.g. 0.9) or nesterov=false")
        return self


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
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="Write checkpoints into the run (for --resume).")
    every_steps: int = Field(0, ge=0, description="Checkpoint every N optimizer steps; 0: at every epoch end.")
    keep_last: int = Field(2, ge=1, description="Checkpoints kept; older ones are deleted.")


class LogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tensorboard: bool = Field(False, description="Write TensorBoard scalars into the run's tensorboard/ folder.")
    mlflow: bool = Field(False, description="Log metrics to MLflow's active tracking target.")


class LoopConfig(BaseModel):
    """How neural models train (ignored by LightGBM and linear models)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(300, ge=1, description="Most passes over the training rows; early stopping usually ends sooner.")
    batch_size: Union[int, Literal["auto"]] = Field(
        "auto", description="Rows per mini-batch. 'auto': training rows / 16, between 32 and 256.")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, description="The optimizer.")
    schedule: ScheduleConfig = Field(default_factory=lambda: ScheduleConfig(type="plateau"),
                                     description="The learning-rate schedule (with optional linear warmup).")
    regularize: RegularizeConfig = Field(default_factory=RegularizeConfig, description="Regularization techniques.")
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

    @model_validator(mode="after")
    def _checks(self) -> "LoopConfig":
        if self.clip_grad_norm and self.clip_grad_value:
            raise ValueError("set train.clip_grad_norm or train.clip_grad_value, not both")
        return self
