import json

import pytest
import yaml

from trainwright.config.io import apply_overrides, dump_config, json_schema, load_recipe, parse_config, starter_recipe
from trainwright.errors import ConfigError
from trainwright.pipeline.recipe import Recipe


def parse_recipe(raw):
    return parse_config(Recipe, raw)


def test_three_line_recipe_gets_best_practice_defaults():
    rec = parse_recipe({"data": "penguins.csv", "target": "species"})
    assert rec.data.path == "penguins.csv"
    assert rec.model.type == "auto" and rec.model.candidates[0] == "lightgbm_xt"
    assert (rec.split.train, rec.split.validation, rec.split.test) == (0.7, 0.2, 0.1)
    assert rec.seed == 42


def test_unknown_key_names_path_and_closest_match():
    with pytest.raises(ConfigError) as info:
        parse_recipe({"target": "y", "model": {"type": "lightgbm", "num_leavs": 3}})
    msg = str(info.value)
    assert "model.num_leavs: unknown key" in msg and "Did you mean 'num_leaves'" in msg
    assert info.value.path == "model.num_leavs"


def test_unknown_top_level_section():
    with pytest.raises(ConfigError, match=r"modle: unknown key\. Did you mean 'model'"):
        parse_recipe({"target": "y", "modle": {}})


def test_wrong_value_lists_allowed_values():
    with pytest.raises(ConfigError, match=r"preprocess.scale: must be one of 'standard' or 'none', got 'minmax'"):
        parse_recipe({"target": "y", "preprocess": {"scale": "minmax"}})


def test_unknown_model_type_lists_types():
    with pytest.raises(ConfigError, match=r"model.type: unknown model type 'xgb'. Allowed: lightgbm, linear, mlp, "
                                          r"kneighbors, cnn, resnet, text_gru, text_transformer, text_encoder, sequence_gru, sequence_transformer, "
                                          r"catboost, auto"):
        parse_recipe({"target": "y", "model": {"type": "xgb"}})


def test_split_must_sum_to_one():
    with pytest.raises(ConfigError, match="must be 1"):
        parse_recipe({"target": "y", "split": {"train": 0.8, "validation": 0.2, "test": 0.1}})


def test_missing_target():
    with pytest.raises(ConfigError, match="target: required"):
        parse_recipe({"data": "x.csv"})


def test_overrides_parse_yaml_scalars_and_switch_type():
    raw = apply_overrides({"model": {"type": "lightgbm", "num_leaves": 7}}, ["model.type=mlp", "seed=7", "model.hidden_sizes=[8, 4]"])
    assert raw == {"model": {"type": "mlp", "hidden_sizes": [8, 4]}, "seed": 7}
    rec = parse_recipe({**raw, "target": "y"})
    assert rec.model.type == "mlp" and rec.model.hidden_sizes == [8, 4]


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["model.type"])


def test_model_section_without_type_means_the_default_and_names_the_owner_of_other_settings():
    assert parse_recipe({"target": "y", "model": {"bag_folds": 3}}).model.bag_folds == 3
    with pytest.raises(ConfigError, match=r"num_leaves is a setting of lightgbm, and model.type is auto unless given"):
        parse_recipe({"target": "y", "model": {"num_leaves": 7}})
    with pytest.raises(ConfigError, match=r"model.refti is a setting of no model. Did you mean 'refit'\?"):
        parse_recipe({"target": "y", "model": {"refti": False}})  # a typo: the nearest setting is offered


def test_numeric_target_name_is_text():
    assert parse_recipe({"target": 2020}).target == "2020"


def test_dump_round_trips():
    rec = parse_recipe({"data": "a.csv", "target": "y", "model": {"type": "auto"}})
    again = parse_recipe(yaml.safe_load(dump_config(rec)))
    assert again == rec


def test_json_schema_lists_sections_and_model_types():
    schema = json_schema(Recipe)
    assert {"data", "target", "split", "preprocess", "model", "train", "evaluate", "seed"} <= set(schema["properties"])
    text = json.dumps(schema)
    for name in ("lightgbm", "linear", "mlp", "auto"):
        assert f'"{name}"' in text


def test_starter_recipe_is_valid_and_commented(tmp_path):
    text = starter_recipe(Recipe, "penguins.csv", "species", {"task": "inferred: classification"})
    assert "# k of the k-fold bagging" in text and "# inferred: classification" in text
    path = tmp_path / "r.yaml"
    path.write_text(text)
    rec = parse_recipe(load_recipe(path))
    assert rec.target == "species" and rec.model.type == "auto"


def test_load_recipe_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_recipe(bad)


def test_unknown_optimizer_and_schedule_list_the_known_ones():
    with pytest.raises(ConfigError) as info:
        parse_recipe({"target": "y", "train": {"optimizer": {"type": "adamm"}, "schedule": {"type": "cosinee"}}})
    msg = str(info.value)
    assert "train.optimizer.type: unknown optimizer type 'adamm'. Allowed: sgd, adam, adamw, radam, nadam, " \
           "adabelief, rmsprop, adagrad. Did you mean 'adam'?" in msg
    assert "train.schedule.type: unknown schedule type 'cosinee'" in msg and "onecycle" in msg \
        and "Did you mean 'cosine'?" in msg


def test_a_setting_of_another_optimizer_or_schedule_type_names_its_path():
    with pytest.raises(ConfigError) as info:
        parse_recipe({"target": "y", "train": {"optimizer": {"type": "sgd", "betas": [0.9, 0.99]},
                                               "schedule": {"type": "cosine", "step_size": 3}}})
    msg = str(info.value)
    assert "train.optimizer.betas: unknown key. Allowed keys for optimizer type sgd: type, lr, weight_decay, " \
           "lookahead, lookahead_k, lookahead_alpha, layer_lr_decay, momentum, nesterov." in msg
    assert "train.schedule.step_size: unknown key. Allowed keys for schedule type cosine: type, warmup_steps, " \
           "warmup_start_factor, min_lr_factor." in msg
    assert info.value.path == "train.optimizer.betas"


def test_a_misplaced_setting_without_a_type_names_the_default_type():
    with pytest.raises(ConfigError, match=r"train.schedule.step_size: unknown key. Allowed keys for schedule type "
                                          r"plateau: .*patience"):
        parse_recipe({"target": "y", "train": {"schedule": {"step_size": 3}}})


def test_neural_training_settings_validate():
    rec = parse_recipe({"target": "y", "model": {"type": "mlp"}, "train": {
        "optimizer": {"type": "sgd", "nesterov": True, "lr": "auto"}, "schedule": {"type": "onecycle", "warmup_steps": 10},
        "regularize": {"label_smoothing": 0.1, "mixup_alpha": 0.2, "adversarial": "fgsm", "ema_decay": 0.99},
        "clip_grad_norm": 1.0, "accumulate": 4, "precision": "bf16", "gradient_checkpointing": True}})
    assert rec.train.optimizer.lr == "auto" and rec.train.accumulate == 4
    with pytest.raises(ConfigError, match="train.precision: must be one of"):
        parse_recipe({"target": "y", "train": {"precision": "fp8"}})
    with pytest.raises(ConfigError, match="clip_grad_norm or train.clip_grad_value"):
        parse_recipe({"target": "y", "train": {"clip_grad_norm": 1.0, "clip_grad_value": 1.0}})
