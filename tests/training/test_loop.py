"""The loop: each technique acts, impossible settings fail early, resume is exact."""

import math

import pytest
import torch
from sklearn.datasets import load_digits

from trainwright.errors import ArtifactError, ConfigError
from trainwright.models.neural.layers import build_mlp
from trainwright.training.callbacks import Callback, overfitting_point
from trainwright.training.checkpoint import list_checkpoints
from trainwright.training.loop import LoopConfig, Trainer, TrainingDivergedError, fit


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    return X[:1200], y[:1200], X[1200:], y[1200:]


def model(seed=0, **kw):
    torch.manual_seed(seed)
    return build_mlp(64, [32], 10, **kw)


def cfg(**kw):
    base = {"epochs": 3, "batch_size": 64, "schedule": {"type": "constant"}, "checkpoint": {"enabled": False}}
    base.update(kw)
    return LoopConfig(**base)


def weights(m):
    return torch.cat([p.detach().flatten() for p in m.state_dict().values()])


def test_learns_and_records_history(digits):
    X, y, Xv, yv = digits
    m = model()
    result = fit(m, X, y, Xv, yv, config=cfg(epochs=8, optimizer={"lr": 0.01}), task="classification", n_classes=10)
    h = result.history
    assert len(h) == 8 and h[-1]["validation_accuracy"] > 0.85
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert {"epoch", "train_loss", "validation_loss", "validation_accuracy", "lr"} <= set(h[0])


def test_same_seed_same_weights(digits):
    X, y, Xv, yv = digits
    a, b = model(), model()
    for m in (a, b):
        fit(m, X, y, Xv, yv, config=cfg(), task="classification", n_classes=10, seed=3)
    assert torch.equal(weights(a), weights(b))


def test_clipping_bounds_the_gradient_norm(digits):
    X, y, _, _ = digits
    t = Trainer(model(), cfg(clip_grad_norm=0.05), task="classification", n_classes=10)
    seen = []
    original = t.optimizer.step

    def spy(*a, **k):
        seen.append(math.sqrt(sum(float(p.grad.pow(2).sum()) for p in t.module.parameters() if p.grad is not None)))
        return original(*a, **k)

    t.optimizer.step = spy
    for i in range(5):
        t.step(X[i * 64:(i + 1) * 64], y[i * 64:(i + 1) * 64])
    assert len(seen) == 5 and max(seen) <= 0.05 + 1e-6


def test_accumulation_equals_a_bigger_batch(digits):
    X, y, _, _ = digits
    a = Trainer(model(), cfg(optimizer={"type": "sgd", "lr": 0.1}, accumulate=2), task="classification", n_classes=10)
    b = Trainer(model(), cfg(optimizer={"type": "sgd", "lr": 0.1}), task="classification", n_classes=10)
    a.step(X[:32], y[:32])
    assert a.steps == 0  # no optimizer step yet
    a.step(X[32:64], y[32:64])
    b.step(X[:64], y[:64])
    assert a.steps == b.steps == 1
    assert torch.allclose(weights(a.module), weights(b.module), atol=1e-6)


def test_bf16_autocast_on_cpu_and_fp16_refused(digits):
    X, y, _, _ = digits
    t = Trainer(model(), cfg(precision="bf16"), task="classification", n_classes=10)
    dtypes = []
    t.module[0].register_forward_hook(lambda mod, inp, out: dtypes.append(out.dtype))
    t.step(X[:64], y[:64])
    assert dtypes[0] == torch.bfloat16
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        Trainer(model(), cfg(precision="fp16"), task="classification", n_classes=10)


def test_gradient_checkpointing_gives_the_same_gradients(digits):
    X, y, _, _ = digits
    grads = []
    for on in (False, True):
        torch.manual_seed(0)
        t = Trainer(build_mlp(64, [32, 32], 10), cfg(gradient_checkpointing=on, optimizer={"type": "sgd", "lr": 0.1}),
                    task="classification", n_classes=10)
        calls = []
        t.module[0][0].register_forward_hook(lambda *a: calls.append(1))
        t.module.train()
        loss = t.row_losses(t.forward(X[:64]), y[:64]).mean()
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in t.module.parameters()]))
        if on:
            assert len(calls) == 2  # the block ran again during backward
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_nan_guard_names_step_loss_and_gradient(digits):
    X, y, _, _ = digits
    bad = X[:64].clone()
    bad[0, 0] = float("inf")
    t = Trainer(model(), cfg(), task="classification", n_classes=10)
    with pytest.raises(TrainingDivergedError, match=r"optimizer step 0: loss nan.*largest gradient"):
        t.step(bad, y[:64])


def test_early_stopping_restores_the_best_epoch(digits):
    X, y, Xv, yv = digits
    m = model()
    config = cfg(epochs=60, optimizer={"lr": 0.05}, early_stopping={"patience": 3})
    result = fit(m, X[:200], y[:200], Xv, yv, config=config, task="classification", n_classes=10)
    assert result.stopped_by == "early_stopping" and len(result.history) < 60
    best = min(result.history, key=lambda h: h["validation_loss"])
    assert result.best_epoch == best["epoch"] == len(result.history) - 3
    t = Trainer(m, cfg(), task="classification", n_classes=10)
    sums = t.evaluate(Xv, yv)
    assert float(sums["loss_sum"] / sums["n"]) == pytest.approx(best["validation_loss"], rel=1e-5)
    point = overfitting_point(result.history)
    assert point == best["epoch"]


def test_impossible_settings_fail_before_training(digits):
    X, y, _, _ = digits
    with pytest.raises(ConfigError, match="train.accumulate=50 is more than the 19 mini-batches"):
        fit(model(), X, y, config=cfg(accumulate=50), task="classification", n_classes=10)
    with pytest.raises(Exception, match="clip_grad_norm or train.clip_grad_value"):
        cfg(clip_grad_norm=1.0, clip_grad_value=1.0)


class StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state):
        if state.epoch == self.epoch:
            raise KeyboardInterrupt  # as if the process died after this epoch's checkpoint


@pytest.mark.parametrize("every_steps", [0, 7])
def test_resume_is_exact(tmp_path, digits, every_steps):
    X, y, Xv, yv = digits
    config = cfg(epochs=6, checkpoint={"enabled": True, "every_steps": every_steps, "keep_last": 2},
                 regularize={"ema_decay": 0.9, "input_noise": 0.05}, schedule={"type": "cosine", "warmup_steps": 10})
    kw = dict(config=config, task="classification", n_classes=10, seed=1, signature={"arch": "a"})
    whole = model(dropout=0.2)
    fit(whole, X, y, Xv, yv, checkpoint_dir=tmp_path / "whole", **kw)
    broken = model(dropout=0.2)
    with pytest.raises(KeyboardInterrupt):
        fit(broken, X, y, Xv, yv, checkpoint_dir=tmp_path / "ck", callbacks=(StopAt(3),), **kw)
    assert len(list_checkpoints(tmp_path / "ck")) <= 2
    assert not [p for p in (tmp_path / "ck").iterdir() if p.name.startswith(".tmp")]
    torch.manual_seed(12345)  # a fresh process would have another RNG state: resume must restore it
    resumed = model(seed=99, dropout=0.2)
    result = fit(resumed, X, y, Xv, yv, checkpoint_dir=tmp_path / "ck", resume=True, **kw)
    assert result.resumed_from_step is not None
    assert torch.equal(weights(whole), weights(resumed))
    assert [h["epoch"] for h in result.history] == list(range(1, 7))


def test_resume_of_another_model_fails(tmp_path, digits):
    X, y, _, _ = digits
    config = cfg(epochs=1, checkpoint={"enabled": True})
    fit(model(), X, y, config=config, task="classification", n_classes=10, checkpoint_dir=tmp_path, signature={"arch": "a"})
    with pytest.raises(ArtifactError, match="another model"):
        fit(model(), X, y, config=config, task="classification", n_classes=10, checkpoint_dir=tmp_path, resume=True,
            signature={"arch": "b"})


@pytest.mark.parametrize("reg", [
    {"label_smoothing": 0.1}, {"l1": 1e-4, "l2": 1e-4}, {"input_noise": 0.1}, {"mixup_alpha": 0.4},
    {"adversarial": "fgsm"}, {"adversarial": "pgd", "pgd_steps": 2}, {"ema_decay": 0.9}, {"swa_start_epoch": 2},
])
def test_each_regularizer_changes_training(digits, reg):
    X, y, Xv, yv = digits
    X, y = X[:400], y[:400]
    base, other = model(), model()
    fit(base, X, y, Xv, yv, config=cfg(optimizer={"lr": 0.01}), task="classification", n_classes=10, seed=2)
    result = fit(other, X, y, Xv, yv, config=cfg(optimizer={"lr": 0.01}, regularize=reg), task="classification",
                 n_classes=10, seed=2)
    assert not torch.equal(weights(base), weights(other))
    assert result.history[-1]["validation_accuracy"] > 0.5


def test_cutmix_needs_images(digits):
    X, y, _, _ = digits
    images = X.reshape(-1, 1, 8, 8)
    from trainwright.models.neural.layers import build_cnn

    torch.manual_seed(0)
    cnn = build_cnn(1, 10, image_size=8, channels=(8,))
    result = fit(cnn, images[:256], y[:256], config=cfg(epochs=1, regularize={"cutmix_alpha": 1.0}),
                 task="classification", n_classes=10)
    assert len(result.history) == 1
    with pytest.raises(ConfigError, match="cutmix"):
        fit(model(), X, y.float(), config=cfg(regularize={"cutmix_alpha": 1.0}), task="regression")


def test_logging_callbacks(tmp_path, digits):
    import importlib.util
    import json

    from trainwright.training.callbacks import ConsoleProgress, JsonlLogger, MLflowLogger, TensorBoardLogger

    X, y, Xv, yv = digits
    fit(model(), X[:256], y[:256], Xv, yv, config=cfg(epochs=2), task="classification", n_classes=10,
        callbacks=(JsonlLogger(tmp_path / "h.jsonl"), ConsoleProgress()))
    lines = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in lines] == [1, 2] and "validation_loss" in lines[0]
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ConfigError, match="pip install tensorboard"):
            TensorBoardLogger(tmp_path / "tb")
    else:  # with the logging extra installed: scalars are written
        fit(model(), X[:256], y[:256], Xv, yv, config=cfg(epochs=1), task="classification", n_classes=10,
            callbacks=(TensorBoardLogger(tmp_path / "tb"),))
        assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())
    if importlib.util.find_spec("mlflow") is None:
        with pytest.raises(ConfigError, match="pip install mlflow"):
            MLflowLogger()


def test_dataloader_path_streams_and_resumes_exactly(tmp_path, digits):
    from torch.utils.data import DataLoader, TensorDataset

    X, y, Xv, yv = digits

    def loader():
        return DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True, generator=torch.Generator())

    valid = DataLoader(TensorDataset(Xv, yv), batch_size=256)
    config = cfg(epochs=4, optimizer={"lr": 0.01}, checkpoint={"enabled": True, "every_steps": 6})
    whole = model()
    result = fit(whole, loader(), None, valid, None, config=config, task="classification", n_classes=10, seed=5,
                 checkpoint_dir=tmp_path / "whole")
    assert result.history[-1]["validation_accuracy"] > 0.8 and (tmp_path / "whole" / "best.safetensors").is_file()
    broken = model()
    with pytest.raises(KeyboardInterrupt):
        fit(broken, loader(), None, valid, None, config=config, task="classification", n_classes=10, seed=5,
            checkpoint_dir=tmp_path / "ck", callbacks=(StopAt(2),))
    resumed = model(seed=7)
    fit(resumed, loader(), None, valid, None, config=config, task="classification", n_classes=10, seed=5,
        checkpoint_dir=tmp_path / "ck", resume=True)
    assert torch.equal(weights(whole), weights(resumed))
