"""Model building blocks: DropConnect, initialization schemes, the MLP and CNN builders."""

import itertools

import pytest
import torch
from torch import nn

from trainwright.errors import ConfigError
from trainwright.models.neural.layers import (
    DropConnectLinear,
    ResidualBlock,
    build_cnn,
    build_mlp,
    init_weights,
)

# --- DropConnect ----------------------------------------------------------------------------


def _pair(p=0.5):
    torch.manual_seed(0)
    dc = DropConnectLinear(20, 3, p=p)
    plain = nn.Linear(20, 3)
    plain.load_state_dict(dc.state_dict())
    return dc, plain


def test_dropconnect_is_linear_in_eval_mode():
    dc, plain = _pair()
    x = torch.randn(5, 20)
    dc.eval()
    assert torch.equal(dc(x), plain(x))
    assert torch.equal(dc(x), dc(x))


def test_dropconnect_drops_weights_in_train_mode_and_keeps_the_expectation():
    dc, plain = _pair(p=0.5)
    dc.train()
    # A unit input picks one weight column: each output is the bias, or bias + weight / (1 - p).
    unit = torch.zeros(1, 20)
    unit[0, 4] = 1.0
    b, w = dc.bias.detach(), dc.weight.detach()[:, 4]
    outs = torch.stack([dc(unit).detach()[0] for _ in range(200)])  # (draws, 3)
    kept = torch.isclose(outs, b + 2 * w)
    dropped = torch.isclose(outs, b.expand_as(outs))
    assert bool((kept | dropped).all())
    assert 0.35 < kept.float().mean().item() < 0.65  # about 1 - p of the weights survive
    assert not torch.equal(outs[0], outs[1]) or not torch.equal(outs[1], outs[2])  # the mask varies

    torch.manual_seed(1)
    x = torch.randn(4, 20)
    with torch.no_grad():
        draws = torch.stack([dc(x) for _ in range(4000)])  # (draws, 4, 3)
        expected = plain(x)
    assert draws.std(0).min().item() > 0.05  # the outputs really vary
    torch.testing.assert_close(draws.mean(0), expected, atol=0.04, rtol=0)
    with pytest.raises(ConfigError):
        DropConnectLinear(3, 2, p=1.0)


# --- initialization -------------------------------------------------------------------------


def _layers():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64))


def test_xavier_and_kaiming_have_the_expected_std_and_zero_biases():
    net = _layers()
    init_weights(net, "xavier")
    assert net[0].weight.std().item() == pytest.approx((2 / (400 + 300)) ** 0.5, rel=0.03)
    assert net[0].weight.abs().max().item() <= (6 / (400 + 300)) ** 0.5  # Glorot uniform bound
    assert net[2].weight.std().item() == pytest.approx((2 / (32 * 9 + 64 * 9)) ** 0.5, rel=0.03)
    init_weights(net, "kaiming")
    assert net[0].weight.std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.03)
    assert net[2].weight.std().item() == pytest.approx((2 / (32 * 9)) ** 0.5, rel=0.03)  # fan_in = in * k * k
    assert net[0].weight.mean().abs().item() < 0.002
    for scheme in ("xavier", "kaiming", "orthogonal"):
        net = _layers()
        init_weights(net, scheme)
        assert net[0].bias.abs().sum().item() == 0 and net[2].bias.abs().sum().item() == 0
        assert torch.equal(net[3].weight.detach(), torch.ones(64))  # norm layers untouched


def test_orthogonal_init_gives_orthonormal_rows_and_default_leaves_weights():
    net = _layers()
    init_weights(net, "orthogonal")
    w = net[0].weight.detach()  # (300, 400): rows orthonormal
    torch.testing.assert_close(w @ w.T, torch.eye(300), atol=1e-4, rtol=0)
    k = net[2].weight.detach().reshape(64, -1)  # (64, 288)
    torch.testing.assert_close(k @ k.T, torch.eye(64), atol=1e-4, rtol=0)

    net, before = _layers(), _layers()
    init_weights(net, "default")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), before.state_dict().values()))
    assert net[0].bias.abs().sum().item() > 0


def test_unknown_init_scheme_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        init_weights(_layers(), "orthogonl")
    message = str(err.value)
    assert err.value.path == "model.init"
    assert all(s in message for s in ("'default'", "'xavier'", "'kaiming'", "'orthogonal'"))
    assert "Did you mean 'orthogonal'" in message


# --- MLP ------------------------------------------------------------------------------------

NORM_TYPES = {"none": None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}
ACT_TYPES = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


@pytest.mark.parametrize("norm,residual,activation",
                         list(itertools.product(NORM_TYPES, (False, True), ACT_TYPES)))
def test_build_mlp_shapes_and_blocks(norm, residual, activation):
    torch.manual_seed(0)
    net = build_mlp(8, [8, 8, 6], 3, norm=norm, residual=residual, activation=activation, dropout=0.1)
    children = list(net.children())
    assert len(children) == 4 and type(children[-1]) is nn.Linear  # three blocks, then the head
    assert [isinstance(c, ResidualBlock) for c in children[:3]] == [residual, residual, False]
    for block in children[:3]:
        body = block.body if isinstance(block, ResidualBlock) else block
        kinds = [type(m) for m in body]
        expected = [nn.Linear] + ([NORM_TYPES[norm]] if NORM_TYPES[norm] else []) + [ACT_TYPES[activation], nn.Dropout]
        assert kinds == expected
    net.train()
    assert net(torch.randn(5, 8)).shape == (5, 3)
    net.eval()
    assert net(torch.randn(1, 8)).shape == (1, 3)


def test_residual_block_adds_its_input():
    torch.manual_seed(0)
    net = build_mlp(4, [4], 2, residual=True)
    block = net[0]
    x = torch.randn(3, 4)
    torch.testing.assert_close(block(x), x + block.body(x))
    with torch.no_grad():  # a body that outputs zeros leaves exactly the input
        block.body[0].weight.zero_()
        block.body[0].bias.zero_()
    assert torch.equal(block(x), x)
    plain = build_mlp(4, [4], 2, residual=False)
    with torch.no_grad():
        plain[0][0].weight.zero_()
        plain[0][0].bias.zero_()
    assert torch.equal(plain[0](x), torch.zeros(3, 4))


def test_build_mlp_dropconnect_init_and_bad_choices():
    net = build_mlp(10, [16, 16], 2, dropconnect=0.3, init="orthogonal")
    assert isinstance(net[0][0], DropConnectLinear) and net[0][0].p == 0.3
    assert type(net[-1]) is nn.Linear  # the head is never DropConnect
    w = net[1][0].weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(16), atol=1e-4, rtol=0)
    assert net[0][0].bias.abs().sum().item() == 0
    assert type(build_mlp(3, [], 1)[0]) is nn.Linear  # no hidden layers: a linear model
    with pytest.raises(ConfigError) as err:
        build_mlp(4, [8], 2, norm="batchnorm")
    assert err.value.path == "model.norm" and "'batch'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        build_mlp(4, [8], 2, activation="sigmoid")
    assert err.value.path == "model.activation"
    with pytest.raises(ConfigError):
        build_mlp(4, [8, 0], 2)
    with pytest.raises(ConfigError):
        build_mlp(4, [8], 2, dropout=1.0)


# --- CNN ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [28, 8])
def test_build_cnn_output_shape(size):
    torch.manual_seed(0)
    net = build_cnn(1, 10, image_size=size, dropout=0.2, spatial_dropout=0.1)
    assert len(list(net.children())) == 3  # two stages, then the head
    net.train()
    assert net(torch.randn(4, 1, size, size)).shape == (4, 10)
    net.eval()
    assert net(torch.randn(2, 1, size, size)).shape == (2, 10)
    rgb = build_cnn(3, 5, channels=(8, 16, 32), image_size=size, norm="none")
    assert rgb(torch.randn(2, 3, size, size)).shape == (2, 5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in rgb.modules())


def test_build_cnn_uses_kaiming_by_default_and_rejects_too_many_stages():
    torch.manual_seed(0)
    net = build_cnn(1, 10)
    conv = net[1][0]  # Conv2d(32, 64, 3): fan_in 288
    assert conv.weight.std().item() == pytest.approx((2 / 288) ** 0.5, rel=0.05)
    assert conv.bias is None  # BatchNorm follows, so no conv bias
    with pytest.raises(ConfigError) as err:
        build_cnn(1, 10, channels=(8, 8, 8, 8), image_size=8)
    assert err.value.path == "model.channels"


def test_spatial_dropout_zeroes_whole_channels_in_train_mode():
    torch.manual_seed(0)
    net = build_cnn(1, 3, channels=(16,), image_size=8, spatial_dropout=0.5)
    drop = next(m for m in net.modules() if isinstance(m, nn.Dropout2d))
    seen = {}
    drop.register_forward_hook(lambda m, inp, out: seen.update(inp=inp[0].detach(), out=out.detach()))
    x = torch.randn(6, 1, 8, 8)
    net.train()
    net(x)
    inp, out = seen["inp"], seen["out"]  # (6, 16, 8, 8)
    zeroed = (out == 0).flatten(2).all(2)  # (6, 16): whole channel zero
    live = (inp != 0).flatten(2).any(2)
    torch.testing.assert_close(out[~zeroed], 2 * inp[~zeroed])  # kept channels are scaled by 1 / (1 - p)
    dropped_live = (zeroed & live).float().mean().item()
    assert 0.3 < dropped_live / live.float().mean().item() < 0.7
    net.eval()
    net(x)
    assert torch.equal(seen["out"], seen["inp"])
