"""Optimizers: every type trains, parameter groups, AdaBelief by hand, Lookahead and its exact resume."""

from __future__ import annotations

import io
import math

import pytest
import torch
from pydantic import ValidationError

from trainwright.errors import ConfigError
from trainwright.training.config import OPTIMIZER_CONFIGS, AdagradConfig, AdamConfig, RMSpropConfig, SGDConfig
from trainwright.training.optim import (
    OPTIMIZERS,
    AdaBelief,
    Lookahead,
    build_optimizer,
    optimizer_config,
    param_groups,
)

ALL_TYPES = ["sgd", "adam", "adamw", "radam", "nadam", "adabelief", "rmsprop", "adagrad"]
EXPECTED_CLASS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                  "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad, "radam": torch.optim.RAdam,
                  "nadam": torch.optim.NAdam, "adabelief": AdaBelief}


def _regression_problem():
    """A fixed linear problem: y = X @ w + 0.5, 256 rows, 5 features."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(256, 5, generator=gen)
    y = X @ torch.tensor([1.5, -2.0, 0.5, 3.0, -1.0]) + 0.5
    return X, y.unsqueeze(1)


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 1))


def test_registry_holds_every_config_type():
    # The config classes' `type` literals are the one list of names; the registry maps each to a builder.
    assert OPTIMIZERS.names() == list(OPTIMIZER_CONFIGS) == ALL_TYPES
    assert {name: cls for name, cls in OPTIMIZER_CONFIGS.items() if cls is not AdamConfig} == {
        "sgd": SGDConfig, "rmsprop": RMSpropConfig, "adagrad": AdagradConfig}


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("kind", ALL_TYPES)
def test_every_optimizer_decreases_the_loss(kind, lookahead):
    X, y = _regression_problem()
    model = _net()
    lr = {"sgd": 0.02, "rmsprop": 0.01, "adagrad": 0.1}.get(kind, 0.05)
    opt = build_optimizer(model, optimizer_config(type=kind, lr=lr, lookahead=lookahead))
    inner = opt.optimizer if lookahead else opt
    assert type(inner) is EXPECTED_CLASS[kind]
    assert isinstance(opt, Lookahead) == lookahead
    loss_fn = torch.nn.MSELoss()
    first = loss_fn(model(X), y).item()
    for _ in range(200):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
    last = loss_fn(model(X), y).item()
    assert first > 5.0  # the problem starts far from solved
    assert last < 0.05 * first, (kind, first, last)


def test_config_reaches_the_torch_optimizer():
    model = _net()
    sgd = build_optimizer(model, optimizer_config(type="sgd", lr=0.3, momentum=0.8, nesterov=True))
    assert (sgd.defaults["momentum"], sgd.defaults["nesterov"], sgd.param_groups[0]["lr"]) == (0.8, True, 0.3)
    adam = build_optimizer(model, optimizer_config(type="adam", betas=(0.8, 0.99), eps=1e-6))
    assert adam.defaults["betas"] == (0.8, 0.99) and adam.defaults["eps"] == 1e-6
    for kind in ("radam", "nadam"):  # decoupled decay, as AdamW
        assert build_optimizer(model, optimizer_config(type=kind)).defaults["decoupled_weight_decay"] is True
    # AdaBelief adds eps inside the square root: the config's Adam-like 1e-8 becomes 1e-16.
    assert build_optimizer(model, optimizer_config(type="adabelief")).param_groups[0]["eps"] == pytest.approx(1e-16)


def test_weight_decay_skips_biases_and_norm_parameters():
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                                torch.nn.Linear(6, 6), torch.nn.LayerNorm(6), torch.nn.Linear(6, 2))
    groups = param_groups(model, lr=0.1, weight_decay=0.5)
    decayed = {id(p) for g in groups if g["weight_decay"] == 0.5 for p in g["params"]}
    free = {id(p) for g in groups if g["weight_decay"] == 0.0 for p in g["params"]}
    weights = {id(model[i].weight) for i in (0, 3, 5)}
    assert decayed == weights
    assert free == {id(p) for p in model.parameters()} - weights
    assert all(set(g) == {"params", "lr", "weight_decay", "name"} for g in groups)

    # Behaviour: with zero gradients AdamW only decays, so weights shrink by (1 - lr*wd) and the rest stays.
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = build_optimizer(model, optimizer_config(type="adamw", lr=0.1, weight_decay=0.5))
    opt.zero_grad()
    (model(torch.randn(8, 4)) * 0).sum().backward()
    opt.step()
    for name, p in model.named_parameters():
        factor = 0.95 if name.endswith("weight") and p.ndim == 2 else 1.0
        assert torch.allclose(p, before[name] * factor, atol=1e-7), name


def test_layer_lr_decay_gives_each_layer_group_its_rate():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4),
                                torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    groups = param_groups(model, lr=1.0, weight_decay=0.1, layer_lr_decay=0.5)
    # The ReLU holds no parameters, so it is not a layer group: 4 groups, lr 1/8, 1/4, 1/2, 1 from input to output.
    assert [(g["name"], g["lr"]) for g in groups] == [
        ("0.decay", 0.125), ("0.no_decay", 0.125), ("2.decay", 0.25), ("2.no_decay", 0.25),
        ("3.no_decay", 0.5), ("4.decay", 1.0), ("4.no_decay", 1.0)]
    opt = build_optimizer(model, optimizer_config(type="sgd", lr=0.2, layer_lr_decay=0.1))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([2e-4, 2e-4, 2e-3, 2e-3, 2e-2, 0.2, 0.2])
    n_params = sum(len(g["params"]) for g in opt.param_groups)
    assert n_params == len(list(model.parameters()))


def test_parameters_held_by_the_model_itself_and_shared_ones():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.a = torch.nn.Linear(3, 3)
            self.b = torch.nn.Linear(3, 3)
            self.b.weight = self.a.weight  # tied
            self.frozen = torch.nn.Linear(3, 3).requires_grad_(False)

    net = Net()
    groups = param_groups(net, lr=1.0, weight_decay=0.1, layer_lr_decay=0.5)
    assert [(g["name"], g["lr"], len(g["params"])) for g in groups] == [
        ("a.decay", 0.5, 1), ("a.no_decay", 0.5, 1), ("b.no_decay", 1.0, 1), ("<root>.no_decay", 1.0, 1)]
    single = param_groups(torch.nn.Linear(2, 2), lr=0.1, weight_decay=0.1)
    assert [g["name"] for g in single] == ["model.decay", "model.no_decay"]
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(torch.nn.Linear(2, 2).requires_grad_(False), optimizer_config())


def test_unknown_optimizer_lists_known_names_and_closest():
    with pytest.raises(ConfigError) as err:
        OPTIMIZERS.get("adamm")
    message = str(err.value)
    assert all(name in message for name in ALL_TYPES)
    assert "Did you mean 'adam'?" in message
    with pytest.raises(ValidationError, match="adabelief"):
        optimizer_config(type="adamm")


def test_nesterov_without_momentum_is_rejected():
    with pytest.raises(ValueError, match=r"nesterov=true requires optimizer.momentum > 0"):
        optimizer_config(type="sgd", nesterov=True, momentum=0.0)
    cfg = optimizer_config(type="sgd", nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        cfg.momentum = 0.0  # validate_assignment catches it too
    with pytest.raises(ValidationError, match="nesterov"):  # only sgd has it; elsewhere it is a typo, not ignored
        optimizer_config(type="adamw", nesterov=True, momentum=0.0)
    for bad in ({"lr": 0}, {"weight_decay": -1}, {"betas": (0.9, 1.0)}, {"unknown": 1}):
        with pytest.raises(ValidationError):
            optimizer_config(**bad)


def test_adabelief_matches_the_paper_by_hand():
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-8, 0.1
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = AdaBelief([w], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    # Step 1, g = 0.5: decay 1.0 -> 0.99; m = 0.05; s = 0.001*(0.5-0.05)**2 + 1e-8 = 2.0251e-4;
    # m_hat = 0.05/0.1 = 0.5; s_hat = 2.0251e-4/0.001 = 0.20251; w = 0.99 - 0.1*0.5/(sqrt(0.20251)+1e-8)
    w.grad = torch.tensor([0.5], dtype=torch.float64)
    opt.step()
    w1 = 0.99 - 0.1 * 0.5 / (math.sqrt(0.20251) + 1e-8)
    assert w1 == pytest.approx(0.8788916, abs=1e-7)
    assert w.item() == pytest.approx(w1, abs=1e-12)
    # Step 2, g = -0.3: m = 0.9*0.05 + 0.1*(-0.3) = 0.015; s = 0.999*2.0251e-4 + 0.001*(-0.3-0.015)**2 + 1e-8
    # = 3.0154249e-4; m_hat = 0.015/0.19; s_hat = s/0.001999; w = 0.99*w1 - 0.1*m_hat/(sqrt(s_hat)+1e-8)
    w.grad = torch.tensor([-0.3], dtype=torch.float64)
    opt.step()
    s2 = 0.999 * 2.0251e-4 + 0.001 * 0.315 ** 2 + 1e-8
    assert s2 == pytest.approx(3.0154249e-4, rel=1e-9)
    w2 = 0.99 * w1 - 0.1 * (0.015 / 0.19) / (math.sqrt(s2 / 0.001999) + 1e-8)
    assert w.item() == pytest.approx(w2, abs=1e-12)
    assert w.item() == pytest.approx(0.8497759, abs=1e-7)
    assert opt.state[w]["step"] == 2


def test_lookahead_pulls_slow_weights_every_k_steps():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4))
    w0 = w.detach().clone()
    grads = [torch.randn(4) for _ in range(6)]
    opt = Lookahead(torch.optim.SGD([w], lr=0.1), k=3, alpha=0.5)
    assert opt.param_groups is opt.optimizer.param_groups
    fast = w0.clone()
    for i, g in enumerate(grads[:3]):
        w.grad = g.clone()
        opt.step()
        fast -= 0.1 * g
        if i < 2:  # no synchronisation before the k-th step
            assert torch.allclose(w, fast)
    slow = w0 + 0.5 * (fast - w0)
    assert torch.allclose(w, slow) and torch.allclose(opt.slow[w], slow)
    fast = slow.clone()
    for g in grads[3:]:
        w.grad = g.clone()
        opt.step()
        fast -= 0.1 * g
    assert torch.allclose(w, slow + 0.5 * (fast - slow))
    opt.zero_grad()
    assert w.grad is None
    opt.param_groups[0]["lr"] = 0.01  # what a schedule does
    assert opt.optimizer.param_groups[0]["lr"] == 0.01


def _lookahead_run(model, opt, batches):
    loss_fn = torch.nn.MSELoss()
    for xb, yb in batches:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()


def test_lookahead_state_dict_resume_is_exact():
    X, y = _regression_problem()
    batches = [(X[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)] * 2  # 16 steps
    cfg = optimizer_config(type="adamw", lr=0.05, lookahead=True, lookahead_k=5)
    straight = _net(seed=1)
    _lookahead_run(straight, build_optimizer(straight, cfg), batches)

    first = _net(seed=1)
    opt = build_optimizer(first, cfg)
    _lookahead_run(first, opt, batches[:7])  # stop between synchronisations
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    assert saved["optimizer"]["lookahead"]["steps"] == 7 and len(saved["optimizer"]["lookahead"]["slow"]) == 6

    resumed = _net(seed=2)  # different weights, overwritten by the checkpoint
    resumed.load_state_dict(saved["model"])
    opt2 = build_optimizer(resumed, cfg)
    opt2.load_state_dict(saved["optimizer"])
    _lookahead_run(resumed, opt2, batches[7:])
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    # Without the slow weights the resumed run would differ, so the comparison above can fail.
    lost = _net(seed=2)
    lost.load_state_dict(saved["model"])
    opt3 = build_optimizer(lost, cfg)
    opt3.optimizer.load_state_dict(saved["optimizer"]["optimizer"])
    _lookahead_run(lost, opt3, batches[7:])
    assert not all(torch.equal(a, b) for a, b in zip(straight.parameters(), lost.parameters()))


def test_lookahead_rejects_a_state_of_another_model():
    opt = Lookahead(torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1))
    other = Lookahead(torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1))
    with pytest.raises(ValueError, match="slow weights"):
        other.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="k >= 1"):
        Lookahead(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1), k=0)
