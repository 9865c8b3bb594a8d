"""Each regularization technique acts, by the amount its definition says."""

import math

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import nn

from trainwright.errors import ArtifactError, ConfigError
from trainwright.training.regularize import (
    EMA,
    SWA,
    RegularizeConfig,
    add_input_noise,
    check_inputs,
    cutmix,
    fgsm,
    mixup,
    penalty,
    pgd,
    soft_cross_entropy,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def ce(out, t):
    return F.cross_entropy(out, t, reduction="none")


# --- config ---------------------------------------------------------------------------------

def test_config_defaults_are_off_and_typos_fail():
    cfg = RegularizeConfig()
    assert (cfg.label_smoothing, cfg.l1, cfg.l2, cfg.mixup_alpha, cfg.adversarial, cfg.ema_decay) == \
        (0.0, 0.0, 0.0, 0.0, "none", 0.0)
    with pytest.raises(ValidationError):
        RegularizeConfig(label_smoothng=0.1)
    with pytest.raises(ValidationError):
        RegularizeConfig(label_smoothing=1.0)
    with pytest.raises(ValidationError):
        RegularizeConfig(adversarial="cw")
    with pytest.raises(ValidationError):
        cfg.ema_decay = 1.0  # validate_assignment


def test_check_inputs_rejects_cutmix_on_rows_and_noise_on_token_ids():
    check_inputs(RegularizeConfig(cutmix_alpha=1.0), torch.zeros(2, 3, 8, 8))
    with pytest.raises(ConfigError) as err:
        check_inputs(RegularizeConfig(cutmix_alpha=1.0), torch.zeros(2, 5))
    assert err.value.path == "train.regularize.cutmix_alpha" and "(2, 5)" in str(err.value)
    with pytest.raises(ConfigError) as err:
        check_inputs(RegularizeConfig(input_noise=0.1), torch.zeros(2, 5, dtype=torch.long))
    assert err.value.path == "train.regularize.input_noise"


# --- losses and penalties -------------------------------------------------------------------

def test_label_smoothing_changes_the_loss_by_the_expected_amount():
    # One row, two classes: CE = log(1 + e^-2); the smoothed loss is 0.9 * CE + 0.1 * mean_c(-log p_c).
    logits, label = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    plain = math.log1p(math.exp(-2.0))
    expected = 0.9 * plain + 0.1 * 0.5 * (plain + 2.0 + plain)
    assert soft_cross_entropy(logits, label).item() == pytest.approx(plain, abs=1e-6)
    assert soft_cross_entropy(logits, label, 0.1).item() == pytest.approx(expected, abs=1e-6)
    assert expected - plain == pytest.approx(0.1, abs=1e-6)  # the hand-computed change itself

    g = gen(1)
    logits, labels = torch.randn(16, 5, generator=g) * 3, torch.randint(0, 5, (16,), generator=g)
    for s in (0.0, 0.1, 0.3):
        torch.testing.assert_close(soft_cross_entropy(logits, labels, s),
                                   F.cross_entropy(logits, labels, label_smoothing=s, reduction="none"))
        torch.testing.assert_close(soft_cross_entropy(logits, F.one_hot(labels, 5).float(), s),
                                   F.cross_entropy(logits, labels, label_smoothing=s, reduction="none"))
    with pytest.raises(ConfigError):
        soft_cross_entropy(logits, labels, 1.0)


def test_soft_cross_entropy_with_mixed_targets_is_the_mix_of_losses():
    g = gen(2)
    logits, a, b = torch.randn(6, 4, generator=g), torch.randint(0, 4, (6,), generator=g), \
        torch.randint(0, 4, (6,), generator=g)
    y = 0.7 * F.one_hot(a, 4).float() + 0.3 * F.one_hot(b, 4).float()
    torch.testing.assert_close(soft_cross_entropy(logits, y), 0.7 * ce(logits, a) + 0.3 * ce(logits, b))


def test_penalty_is_the_hand_computed_sum_without_biases():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
        net[2].weight.copy_(torch.tensor([[-3.0, 1.0]]))
        net[0].bias.fill_(100.0)  # large, so including a bias would show
        net[1].weight.fill_(50.0)
        net[2].bias.fill_(-100.0)
    l1_sum = 1 + 2 + 0.5 + 0 + 3 + 1
    l2_sum = 1 + 4 + 0.25 + 0 + 9 + 1
    assert penalty(net, 0.1, 0.0).item() == pytest.approx(0.1 * l1_sum)
    assert penalty(net, 0.0, 0.01).item() == pytest.approx(0.01 * l2_sum)
    total = penalty(net, 0.1, 0.01)
    assert total.item() == pytest.approx(0.1 * l1_sum + 0.01 * l2_sum)
    total.backward()  # the penalty's gradient reaches the weights: l1 * sign(w) + 2 * l2 * w
    torch.testing.assert_close(net[2].weight.grad, torch.tensor([[-0.1 - 0.06, 0.1 + 0.02]]))
    assert net[0].bias.grad is None
    zero = penalty(net, 0.0, 0.0)
    assert zero.shape == () and zero.item() == 0.0


def test_input_noise_has_the_asked_std_and_follows_the_generator():
    x = torch.ones(20000, 3)
    assert add_input_noise(x, 0.0, gen()) is x
    noisy = add_input_noise(x, 0.2, gen(5))
    assert (noisy - x).std().item() == pytest.approx(0.2, rel=0.03)
    assert (noisy - x).mean().abs().item() < 0.01
    torch.testing.assert_close(noisy, add_input_noise(x, 0.2, gen(5)))
    assert not torch.equal(noisy, add_input_noise(x, 0.2, gen(6)))


# --- MixUp and CutMix -----------------------------------------------------------------------

def test_mixup_rows_are_convex_combinations_with_one_lambda_for_x_and_y():
    n = 8
    g = gen(3)
    # An identity block makes each row's partner readable from the mixed row.
    x = torch.cat([torch.eye(n), torch.randn(n, 5, generator=g)], dim=1)
    y = F.one_hot(torch.randint(0, 3, (n,), generator=g), 3).float()
    y_reg = torch.randn(n, generator=g)
    seen = 0
    for seed in range(10):
        xm, ym = mixup(x, y, 0.4, gen(seed))
        _, ym_reg = mixup(x, y_reg, 0.4, gen(seed))
        lams = set()
        for i in range(n):
            ident = xm[i, :n]
            if ident[i] == 1.0:  # paired with itself (or lam == 1): unchanged
                torch.testing.assert_close(xm[i], x[i])
                continue
            lam = ident[i].item()
            j = int(torch.argmax(torch.where(torch.arange(n) == i, -1.0, ident)))
            assert 0.0 <= lam <= 1.0
            torch.testing.assert_close(xm[i], lam * x[i] + (1 - lam) * x[j])
            torch.testing.assert_close(ym[i], lam * y[i] + (1 - lam) * y[j])
            torch.testing.assert_close(ym_reg[i], lam * y_reg[i] + (1 - lam) * y_reg[j])
            lams.add(round(lam, 5))
            seen += 1
        assert len(lams) <= 1  # one lambda per batch
    assert seen > 20
    a, b = mixup(x, y, 0.4, gen(7)), mixup(x, y, 0.4, gen(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], mixup(x, y, 0.4, gen(8))[0])
    with pytest.raises(ConfigError):
        mixup(x, y, 0.0, gen())


def test_cutmix_label_weight_is_the_pasted_area_share():
    n, h, w = 6, 10, 12
    x = torch.arange(1, n + 1, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, h, w).contiguous()
    y = torch.eye(n)
    pasted_somewhere = 0
    for seed in range(20):
        xm, ym = cutmix(x, y, 1.0, gen(seed))
        masks = xm != x  # (n, 3, h, w): pasted pixels
        for i in range(n):
            share = masks[i].float().mean().item()
            assert ym[i, i].item() == pytest.approx(1 - share, abs=1e-6)
            if share > 0:
                partner = xm[i][masks[i]].unique()
                assert len(partner) == 1  # the box comes from one other image
                j = int(partner.item()) - 1
                assert ym[i, j].item() == pytest.approx(share, abs=1e-6)
                assert torch.equal(masks[i][0], masks[i][1])  # all channels pasted alike
                pasted_somewhere += 1
            assert ym[i].sum().item() == pytest.approx(1.0)
    assert pasted_somewhere > 10
    a, b = cutmix(x, y, 1.0, gen(4)), cutmix(x, y, 1.0, gen(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ConfigError) as err:
        cutmix(torch.zeros(4, 5), y[:4], 1.0, gen())
    assert err.value.path == "train.regularize.cutmix_alpha"


# --- adversarial inputs ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained():
    """A small MLP trained to separate two Gaussian blobs; returns (model, X, y)."""
    torch.manual_seed(0)
    g = gen(0)
    y = torch.randint(0, 2, (256,), generator=g)
    X = torch.randn(256, 4, generator=g) * 0.8 + (y[:, None] * 2.0 - 1.0) * torch.tensor([1.0, 0.5, 0.0, 0.0])
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        ce(model(X), y).mean().backward()
        opt.step()
    model.zero_grad(set_to_none=True)
    return model, X, y


def _loss(model, X, y):
    model.eval()
    with torch.no_grad():
        return ce(model(X), y).mean().item()


def test_fgsm_raises_the_loss_within_eps_and_leaves_the_model_alone(trained):
    model, X, y = trained
    model.train()
    stats = model[1].running_mean.clone()
    eps = 0.1
    adv = fgsm(model, ce, X, y, eps)
    assert model.training  # mode restored
    assert torch.equal(model[1].running_mean, stats)  # no BatchNorm update from the attack
    assert all(p.grad is None for p in model.parameters())
    assert not adv.requires_grad
    assert (adv - X).abs().max().item() <= eps + 1e-6
    assert (adv - X).abs().max().item() >= eps - 1e-6  # a full signed step
    clean, attacked = _loss(model, X, y), _loss(model, adv, y)
    assert attacked > clean * 1.1


def test_pgd_raises_the_loss_about_as_much_as_fgsm_within_eps(trained):
    model, X, y = trained
    eps = 0.1
    adv_fgsm = fgsm(model, ce, X, y, eps)
    adv_pgd = pgd(model, ce, X, y, eps, step_size=eps / 4, steps=10, generator=gen(1))
    assert (adv_pgd - X).abs().max().item() <= eps + 1e-6
    clean = _loss(model, X, y)
    # PGD is a stronger attack than one FGSM step in general, but not on every batch to the last digit:
    # on this small model they land within 1% of each other (0.2050 vs 0.2055 with 1 thread).
    assert _loss(model, adv_pgd, y) >= 0.99 * _loss(model, adv_fgsm, y)
    assert _loss(model, adv_pgd, y) > clean * 1.1
    again = pgd(model, ce, X, y, eps, step_size=eps / 4, steps=10, generator=gen(1))
    assert torch.equal(adv_pgd, again)  # the random start follows the generator


# --- weight averages ------------------------------------------------------------------------

def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))


def test_ema_after_n_updates_matches_the_closed_form():
    net = _net()
    w0 = net[0].weight.detach().clone()
    decay, value, n = 0.9, 2.0, 7
    ema = EMA(net, decay)
    with torch.no_grad():
        net[0].weight.fill_(value)
    for _ in range(n):
        net[1].num_batches_tracked += 1
        ema.update(net)
    expected = decay**n * w0 + (1 - decay**n) * value
    torch.testing.assert_close(ema.average["0.weight"], expected)
    assert ema.num_updates == n
    assert int(ema.average["1.num_batches_tracked"]) == n  # integer buffers follow the model
    target = _net()
    ema.copy_to(target)
    torch.testing.assert_close(target[0].weight.detach(), expected)
    with pytest.raises(ConfigError):
        EMA(net, 1.0)


def test_ema_state_dict_round_trip_resumes_exactly():
    net = _net()
    ema = EMA(net, 0.95)
    for step in range(3):
        with torch.no_grad():
            net[2].weight.add_(step + 1.0)
        ema.update(net)
    state = ema.state_dict()
    resumed = EMA(_net(), 0.5)
    resumed.load_state_dict(state)
    assert (resumed.decay, resumed.num_updates) == (0.95, 3)
    with torch.no_grad():
        net[2].weight.mul_(1.5)
    ema.update(net)
    resumed.update(net)
    for k in ema.average:
        assert torch.equal(ema.average[k], resumed.average[k]), k
    assert not torch.equal(state["average"]["2.weight"], ema.average["2.weight"])  # the saved state is a copy
    with pytest.raises(ArtifactError):
        EMA(nn.Linear(2, 1), 0.9).load_state_dict(state)


def test_swa_average_is_the_mean_of_the_snapshots():
    net = _net()
    swa = SWA(net)
    snapshots = []
    for seed in range(4):
        torch.manual_seed(seed + 10)
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn_like(p))
        snapshots.append({k: v.detach().clone() for k, v in net.named_parameters()})
        swa.update(net)
    assert swa.n_averaged == 4
    for k in snapshots[0]:
        torch.testing.assert_close(swa.average[k], torch.stack([s[k] for s in snapshots]).mean(0))
    target = _net()
    swa.copy_to(target)
    torch.testing.assert_close(target[2].weight.detach(), swa.average["2.weight"])
    resumed = SWA(_net())
    resumed.load_state_dict(swa.state_dict())
    assert resumed.n_averaged == 4
    assert all(torch.equal(resumed.average[k], swa.average[k]) for k in swa.average)


def test_swa_bn_update_recomputes_statistics_for_the_averaged_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    swa = SWA(net)
    for shift in (1.0, 3.0):
        with torch.no_grad():
            net[0].bias.fill_(shift)
        swa.update(net)
    net.train()
    before = net[2].running_mean.clone()  # the untouched initial statistics: zeros
    X = torch.randn(400, 3, generator=gen(9)) + 5.0
    swa.bn_update(net, X, batch_size=100)
    with torch.no_grad():
        hidden = net[0](X)  # (rows, 4) with the averaged weights, bias 2.0
    assert not torch.equal(net[2].running_mean, before)
    # Dropout stayed off, and equal batches make the cumulative mean the mean over all rows.
    torch.testing.assert_close(net[2].running_mean, hidden.mean(0))
    batch_vars = torch.stack([hidden[i:i + 100].var(0) for i in range(0, 400, 100)])
    torch.testing.assert_close(net[2].running_var, batch_vars.mean(0))
    assert net.training and net[2].momentum == 0.1  # modes and momentum restored
    torch.testing.assert_close(swa.average["2.running_mean"], hidden.mean(0))
    torch.testing.assert_close(net[0].bias.detach(), torch.full((4,), 2.0))
