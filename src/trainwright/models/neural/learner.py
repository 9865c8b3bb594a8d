"""What every neural learner shares: training with trainwright's loop (``trainwright.training.loop``), the LR
finder, integrated-gradients attributions, prediction in blocks, and safetensors weights. A learner says how
to build its network (``builder`` and ``_build_kwargs``) and, when its network does not take rows of features,
how rows become its inputs (``_inputs``: an image learner reshapes pixels to (batch, channels, h, w))."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.config.base import Decision
from trainwright.models.base import Attributions, Learner

__all__ = ["NeuralLearner", "reporter"]

# Integrated gradients evaluate the network on batches of path points: about this many input cells per batch
# (16,384 rows of 30 columns; 1,537 rows of 5,202 TF-IDF terms, where batches of 16,384 rows took an MLP run on BBC
# News to a peak of 1,111 MB, against 754 MB now).
IG_CELLS = 8_000_000
PRUNE_EPOCHS = 5  # fine-tuning epochs after pruning (fewer when the run trained fewer)


def reporter(report) -> tuple:
    """A loop callback that reports each epoch's validation loss to ``report`` (a tuning trial), or none."""
    if report is None:
        return ()
    from trainwright.training.callbacks import Callback

    class Report(Callback):
        def on_evaluate_end(self, state) -> None:
            if "validation_loss" in state.metrics:
                report(state.epoch, float(state.metrics["validation_loss"]))

    return (Report(),)



class NeuralLearner(Learner):
    """A learner whose model is a PyTorch network trained by the loop (abstract: subclasses set ``builder``, the
    "module:function" that builds the network from ``_build_kwargs()``, and the constructor)."""

    builder: str = ""
    predict_rows = 8192  # rows per forward pass at prediction
    # torch's optimizers import torch._dynamo when the first is built (2.6 s on 2 cores): before the time share
    requires = ("torch", "torch._dynamo", "safetensors.torch")

    def _build(self):
        module, name = self.builder.split(":")
        return getattr(importlib.import_module(module), name)(**self._build_kwargs())

    def _build_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def _set_inputs(self, X: np.ndarray) -> None:
        """Learn the input layout from the training rows (nothing for rows of features)."""

    def _inputs(self, x):
        """Rows of features (batch, features) -> the network's inputs."""
        return x

    def _net_on_rows(self, x):
        return self.net_(self._inputs(x))

    def _n_out(self) -> int:
        return len(self.classes_) if self.task == "classification" else 1

    def loop_config(self):
        """The ``LoopConfig`` this learner trains with: ``train`` itself when it is one (the recipe's train
        section is), validated from a dict, or the defaults."""
        from trainwright.training.config import LoopConfig

        if isinstance(self.train, LoopConfig):
            return self.train
        saved = dict(self.train or {})
        saved.pop("time_budget", None)  # the recipe's run-wide bound, saved with the loop settings it extends
        return LoopConfig.model_validate(saved)

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        import torch

        from trainwright.training.loop import fit, resolve_batch_size
        from trainwright.runtime import resolve_device

        cfg, device = self.loop_config(), resolve_device(self.device)
        self.lr_found_ = None  # the LR finder's choice, when lr is 'auto' (set by _find_lr)
        if self.task == "regression":
            # Standardise the target so one learning rate suits every scale.
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
            y = (y - self.y_mean_) / self.y_std_
            valid = None if valid is None else (valid[0], (valid[1] - self.y_mean_) / self.y_std_)
        else:
            self.y_mean_, self.y_std_ = 0.0, 1.0
        on = "cpu" if cfg.nproc > 1 else device
        self._set_inputs(X)
        tensors = self._tensors(X, y, valid, on)
        if sample_weight is not None:
            tensors["sample_weight"] = torch.as_tensor(sample_weight / sample_weight.mean(), dtype=torch.float32, device=on)
        self.batch_size_ = resolve_batch_size(cfg, len(X))
        if cfg.optimizer.lr == "auto":
            cfg = self._find_lr(cfg, tensors)
        options = getattr(self, "_fit_options", {})
        fit_kwargs = {"config": cfg, "task": self.task, "n_classes": self._n_out(), "seed": self.seed,
                      "deadline": deadline, "checkpoint_dir": options.get("checkpoint_dir"),
                      "resume": options.get("resume", False),
                      "callbacks": (*options.get("callbacks", ()), *reporter(options.get("on_iteration"))),
                      "signature": {"type": self.name, **self._build_kwargs()}, "eval_batch_size": self.predict_rows}
        if cfg.nproc > 1:
            from trainwright.training.distributed import spawn_fit

            state, result = spawn_fit(cfg.nproc, (self.builder, self._build_kwargs()), tensors, fit_kwargs, device)
            self.net_ = self._build()
            self.net_.load_state_dict(state)
        else:
            from trainwright.runtime import large_arrays_on_the_heap

            torch.manual_seed(self.seed)
            self.net_ = self._build().to(device)
            with large_arrays_on_the_heap():
                result = self._train(fit, tensors, device, fit_kwargs)
        self.history_, self.best_iteration_, self.stopped_by_ = result.history, result.best_epoch, result.stopped_by
        self.resumed_from_step_ = result.resumed_from_step
        self.net_ = self.net_.cpu().eval()

    def _tensors(self, X, y, valid, on: str) -> dict:
        """Rows and encoded targets (class positions, or standardised values) as the loop takes them, on ``on``."""
        import torch

        y_dtype = torch.long if self.task == "classification" else torch.float32
        tensors = {"X": self._inputs(torch.as_tensor(X, dtype=torch.float32, device=on)),
                   "y": torch.as_tensor(y, dtype=y_dtype, device=on)}
        if valid is not None:
            tensors.update(X_valid=self._inputs(torch.as_tensor(valid[0], dtype=torch.float32, device=on)),
                           y_valid=torch.as_tensor(valid[1], dtype=y_dtype, device=on))
        return tensors

    def quantized(self) -> "NeuralLearner":
        """A copy whose weight matrices (Linear, Conv, Embedding) are rounded to int8, one scale per output unit,
        and saved as int8: a quarter of the bytes; it computes in float32 as before."""
        import copy

        from trainwright.errors import ConfigError
        from trainwright.models.neural.compress import quantize

        self._check_fitted()
        if getattr(self, "compression_", None) == "int8":
            raise ConfigError("the model is already quantised to int8", path="--method")
        out = copy.copy(self)
        (out.net_, out.int8_), out.compression_ = quantize(self.net_), "int8"
        return out

    def pruned(self, amount: float, X, y, *, X_valid=None, y_valid=None, deadline=None, sample_weight=None,
               seed: int = 0) -> "NeuralLearner":
        """A copy with the ``amount`` share of its Linear/Conv weights zeroed by magnitude (ranked together), then
        fine-tuned for up to ``PRUNE_EPOCHS`` epochs at a tenth of the learning rate with the zeros held, keeping
        the best epoch on the validation rows. Saved as a bit mask and the weights kept."""
        import copy

        import torch

        from trainwright.errors import ConfigError
        from trainwright.models.neural.compress import finish_pruning, prune_weights
        from trainwright.training.loop import fit

        self._check_fitted()
        if getattr(self, "compression_", None) == "int8":
            raise ConfigError("the model is quantised to int8; prune the run it was quantised from", path="--method")
        out = copy.deepcopy(self)
        zeroed = prune_weights(out.net_, amount)
        cfg = self.loop_config().model_copy(deep=True)
        cfg.epochs, cfg.nproc = max(1, min(PRUNE_EPOCHS, cfg.epochs)), 1
        lr = self.lr_found_["lr"] if getattr(self, "lr_found_", None) else cfg.optimizer.lr
        cfg.optimizer.lr = (lr if isinstance(lr, float) else 1e-3) / 10
        encode = self.encode_labels if self.task == "classification" else lambda v: (np.asarray(v, float) - self.y_mean_) / self.y_std_
        valid = None if X_valid is None else (X_valid, encode(y_valid))
        tensors = self._tensors(X, encode(y), valid, "cpu")
        weight = None if sample_weight is None else torch.as_tensor(sample_weight / np.mean(sample_weight),
                                                                    dtype=torch.float32)
        torch.manual_seed(seed)
        result = fit(out.net_, tensors["X"], tensors["y"], tensors.get("X_valid"), tensors.get("y_valid"), config=cfg,
                     task=self.task, n_classes=self._n_out(), seed=seed, deadline=deadline, sample_weight=weight,
                     eval_batch_size=self.predict_rows)
        finish_pruning(out.net_)
        out.net_ = out.net_.cpu().eval()
        out.history_, out.best_iteration_, out.stopped_by_ = result.history, result.best_epoch, result.stopped_by
        out.compression_ = "sparse"
        out.pruned_ = {"amount": float(amount), "zeroed": zeroed, "fine_tune_epochs": len(result.history)}
        return out

    def onnx_nodes(self, g, features: str) -> str:
        """The network as torch's TorchScript-based ONNX exporter writes it (opset 17), absorbed into ``g`` on the
        float feature matrix; then, in double, the softmax (classification) or the target's scale (regression),
        as ``_predict_raw`` computes them."""
        import io
        import warnings

        import torch

        from trainwright.onnxgraph import OPSET

        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch calls this exporter legacy; the new one needs onnxscript
            torch.onnx.export(self._rows_module(), (torch.zeros(2, self.n_features_in_),), buffer, input_names=["x"],
                              output_names=["out"], dynamic_axes={"x": {0: "rows"}, "out": {0: "rows"}},
                              opset_version=OPSET, dynamo=False)
        import onnx

        (out,) = g.absorb(onnx.load_from_string(buffer.getvalue()), {"x": features},
                          prefix=g.fresh(self.name) + "_").values()
        out = g.op("Cast", out, to=11)
        if self.task == "classification":
            return g.op("Softmax", out, axis=1)
        value = g.op("Squeeze", out, g.const(np.array([1], dtype=np.int64)))
        return g.op("Add", g.op("Mul", value, g.const(np.array(self.y_std_))), g.const(np.array(self.y_mean_)))

    def _rows_module(self, outputs: bool = False):
        """The network as a module on rows of features: its raw outputs, or with ``outputs`` what ``output``
        gives (probabilities by a softmax in double, or values on the target's scale)."""
        import torch

        learner = self

        class Rows(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = learner.net_

            def forward(self, x):
                out = learner._net_on_rows(x)
                if not outputs:
                    return out
                if learner.task == "classification":
                    return torch.softmax(out.double(), dim=1)
                return out[:, 0].double() * learner.y_std_ + learner.y_mean_

        return Rows().eval()

    def torchscript(self):
        """The network as a TorchScript module (traced) on float32 rows of features (the preprocessor's output),
        returning what ``output`` returns: class probabilities (double) or values."""
        import warnings

        import torch

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            return torch.jit.trace(self._rows_module(outputs=True), torch.zeros(2, self.n_features_in_))

    def _train(self, fit, tensors: dict, device: str, fit_kwargs: dict):
        """Train ``self.net_`` with the loop's ``fit`` (one call; a learner that trains in phases overrides it)."""
        return fit(self.net_, tensors["X"], tensors["y"], tensors.get("X_valid"), tensors.get("y_valid"),
                   sample_weight=tensors.get("sample_weight"), device=device, **fit_kwargs)

    def _phased(self, fit, tensors: dict, device: str, fit_kwargs: dict, phases: list, history: list | None = None,
                best=None):
        """Train ``self.net_`` in phases, one call of the loop each, the histories joined (``history``: epochs of
        an earlier phase, already named; ``best``: its ``_best_of``). A phase is (name, epochs, trainable layer
        groups from the top, settings of the train section, dotted): the layer groups are the network's children,
        the lower ones frozen. Only the last phase writes checkpoints; epochs are numbered across phases and tagged
        with their phase. The weights kept are those of the best validation epoch of any phase: a fine-tuning
        epoch that the time budget cut short does not replace a better head (text_encoder on 1,202 BBC News
        articles: validation loss 0.114 after the head, 0.122 after the cut epoch)."""
        from trainwright.config.io import with_values

        cfg, groups, history = fit_kwargs["config"], list(self.net_.children()), list(history or [])
        result, deadline = None, fit_kwargs.get("deadline")
        for i, (name, epochs, trainable, tuned) in enumerate(phases):
            if result is not None and deadline is not None and time.monotonic() > deadline:
                phases = phases[:i]  # the time budget is spent: the phases done are the training
                history = history[:len(history) - len(result.history)]
                result.stopped_by = "time_budget"
                break
            for g, group in enumerate(groups):
                group.requires_grad_(g >= len(groups) - trainable)
            last = i == len(phases) - 1
            result = fit(self.net_, tensors["X"], tensors["y"], tensors.get("X_valid"), tensors.get("y_valid"),
                         sample_weight=tensors.get("sample_weight"), device=device, **{
                             **fit_kwargs, "config": type(cfg).model_validate(with_values(cfg.model_dump(),
                                                                                           {"epochs": epochs, **tuned})),
                             **({} if last else {"checkpoint_dir": None})})
            best = self._best_of(best, result, len(history))
            if not last:
                history += [{**h, "epoch": len(history) + 1, "phase": name} for h in result.history]
        result.best_epoch += len(history)
        result.history = history + [{**h, "epoch": len(history) + j + 1, "phase": phases[-1][0]}
                                    for j, h in enumerate(result.history)]
        if best is not None and best[1] != result.best_epoch:  # an earlier phase's epoch was better
            self.net_.load_state_dict(best[2])
            result.best_epoch = best[1]
        return result

    def _best_of(self, best, result, offset: int):
        """(validation loss, epoch numbered across phases, a copy of the weights) of the better of ``best`` and
        the epoch a phase's ``result`` kept (which the network holds), or ``best`` when there is no validation."""
        kept = result.history[result.best_epoch - 1] if result.history else {}
        if "validation_loss" not in kept or (best is not None and best[0] <= kept["validation_loss"]):
            return best
        return (kept["validation_loss"], offset + result.best_epoch,
                {k: v.detach().clone() for k, v in self.net_.state_dict().items()})

    def find_lr(self, X, y):
        """Smith's LR range test for this network and optimizer on rows ``X`` and targets ``y``.

        Returns:
            LRFinderResult: rates, smoothed losses, the suggestion (``.to_svg()`` plots them).
        """
        import torch

        from trainwright.models.base import _as_matrix
        from trainwright.training.loop import resolve_batch_size

        X, y = _as_matrix(X), np.asarray(y)
        self.n_features_in_ = X.shape[1]
        self._set_inputs(X)
        if self.task == "classification":
            self.classes_, codes = np.unique(y, return_inverse=True)
            target = torch.as_tensor(codes, dtype=torch.long)
        else:
            values = y.astype(np.float64)
            target = torch.as_tensor((values - values.mean()) / (values.std() or 1.0), dtype=torch.float32)
        cfg = self.loop_config()
        return self._range_test(cfg, self._inputs(torch.as_tensor(X)), target, resolve_batch_size(cfg, len(X)))

    def _range_test(self, cfg, X, y, batch_size: int):
        import torch

        from trainwright.training.lr_finder import find_lr

        torch.manual_seed(self.seed)
        probe = self._build()
        if self.task == "classification":
            loss_fn = torch.nn.functional.cross_entropy
        else:
            loss_fn = lambda out, t: torch.nn.functional.mse_loss(out[:, 0], t)  # noqa: E731
        optimizer = cfg.optimizer.model_copy(update={"lr": 1e-3})
        return find_lr(probe, loss_fn, X, y, optimizer=optimizer, batch_size=batch_size, seed=self.seed)

    def _find_lr(self, cfg, tensors):
        """Resolve lr='auto' with the LR range test on the training rows: a copy of the settings whose
        optimizer.lr is the suggestion, validated on assignment (so it is > 0 like any recipe value)."""
        result = self._range_test(cfg, tensors["X"].cpu(), tensors["y"].cpu(), self.batch_size_)
        self.lr_found_ = {"lr": result.suggestion, "reason": result.reason}
        resolved = cfg.model_copy(deep=True)
        resolved.optimizer.lr = result.suggestion
        return resolved

    # --- what the pipeline asks of a fitted MLP ---------------------------------------------------
    def fixed_params(self) -> dict:
        """The epochs of the kept weights, fixed: a refit needs no validation rows."""
        cfg = self.loop_config().model_copy(deep=True)
        cfg.epochs = max(1, self.best_iteration_)
        return {"train": cfg}

    def refit_params(self, folds: list) -> dict:
        """The folds' median epochs, fixed."""
        cfg = self.loop_config().model_copy(deep=True)
        cfg.epochs = max(1, round(float(np.median([f.best_iteration_ for f in folds]))))
        return {"train": cfg}

    def resolved(self) -> dict:
        """The batch size used, and the learning rate the LR finder chose for ``lr: auto``."""
        out: dict[str, Any] = {"train.batch_size": self.batch_size_}
        if self.lr_found_ is not None:
            out["train.optimizer.lr"] = self.lr_found_["lr"]
        return out

    def decisions(self) -> list[Decision]:
        """The LR finder's choice, when ``lr: auto`` asked for one."""
        found = self.lr_found_
        return [Decision("train.optimizer.lr", found["lr"], f"LR finder: {found['reason']}")] if found else []

    def n_parameters(self) -> int:
        """Weights and biases of the network."""
        return int(sum(p.numel() for p in self.net_.parameters()))

    def attributions(self, X: np.ndarray, *, steps: int = 50, baseline=None, **options) -> Attributions:
        """Integrated gradients (Sundararajan et al. 2017), computed with captum (Gauss-Legendre rule,
        ``steps`` points) from ``baseline`` (default: the zero vector of the standardised features, i.e. the
        training means). The output explained: the log-odds of ``classes_[1]`` (binary), the logit of each
        row's predicted class (multiclass), the predicted value (regression). ``extra`` holds ``delta``, the
        largest completeness error over rows, and ``baseline``."""
        import torch
        from captum.attr import IntegratedGradients

        x = torch.as_tensor(np.asarray(X, dtype=np.float32))  # (rows, features)
        start = torch.zeros((1, x.shape[1])) if baseline is None else \
            torch.as_tensor(np.asarray(baseline, dtype=np.float32)).reshape(1, -1)
        space, forward = self._explained_output()
        with torch.no_grad():
            margin = forward(x).double().numpy()  # (rows, outputs)
            base = forward(start)[0].double().numpy()  # (outputs,)
        pick = margin.argmax(axis=1) if margin.shape[1] > 1 else np.zeros(len(margin), dtype=np.int64)
        phi, delta = np.zeros(tuple(x.shape)), 0.0
        if len(x):
            attr, err = IntegratedGradients(forward).attribute(
                x, baselines=start.expand_as(x), target=torch.as_tensor(pick), n_steps=steps,
                internal_batch_size=max(steps, min(16384, IG_CELLS // max(x.shape[1], 1))),
                return_convergence_delta=True)
            phi, delta = attr.detach().double().numpy(), float(err.abs().max())
        extra = {"delta": delta, "baseline": "zeros (training means)" if baseline is None else "given"}
        return Attributions(space, phi, pick, base, margin, extra)

    def _explained_output(self):
        """The space and the function explained: (rows, features) -> (rows, outputs)."""
        net = self._net_on_rows
        if self.task == "regression":
            return "value", lambda x: net(x)[:, :1] * self.y_std_ + self.y_mean_
        if len(self.classes_) == 2:
            def log_odds(x):
                z = net(x)  # (rows, 2); softmax over two logits: log(p1 / p0) = z1 - z0
                return z[:, 1:2] - z[:, 0:1]

            return "log-odds", log_odds
        return "logit", net

    def _predict_raw(self, X) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = torch.cat([self._net_on_rows(torch.from_numpy(X[i:i + self.predict_rows]))
                             for i in range(0, len(X), self.predict_rows)]) \
                if len(X) else torch.zeros((0, self._n_out()))
            if self.task == "classification":
                return torch.softmax(out.double(), dim=1).numpy()
            return out[:, 0].double().numpy() * self.y_std_ + self.y_mean_

    def _state(self) -> tuple[dict, dict[str, bytes]]:
        from safetensors.torch import save

        from trainwright.models.neural.compress import packed_state

        compression = getattr(self, "compression_", None)
        if compression == "int8":
            tensors = self.int8_
        else:
            tensors = {k: v.contiguous() for k, v in self.net_.state_dict().items()}
            tensors = packed_state(tensors) if compression == "sparse" else tensors
        extra = {"weights_file": "weights.safetensors", "y_mean": self.y_mean_, "y_std": self.y_std_,
                 "batch_size": self.batch_size_}
        if compression is not None:
            extra.update(compression=compression, pruned=getattr(self, "pruned_", None))
        return extra, {"weights.safetensors": save(tensors)}

    def _load_state(self, directory: Path, extra: dict) -> None:
        from safetensors.torch import load_file

        from trainwright.models.neural.compress import load_quantized, unpacked_state

        self.y_mean_, self.y_std_, self.batch_size_ = extra["y_mean"], extra["y_std"], extra["batch_size"]
        self._set_inputs(np.zeros((0, self.n_features_in_), dtype=np.float32))
        self.net_ = self._build()
        tensors = load_file(str(directory / extra["weights_file"]))
        self.compression_ = extra.get("compression")
        if self.compression_ == "int8":
            self.net_, self.int8_ = load_quantized(self.net_, tensors), tensors
        else:
            self.net_.load_state_dict(unpacked_state(tensors) if self.compression_ == "sparse" else tensors)
            self.pruned_ = extra.get("pruned")
        self.net_.eval()
