"""The training loop's CUDA paths, checked on a GPU machine (CI has none): bf16 autocast (precision auto), fp16
with the gradient scaler, exact resume with the CUDA random state, and data-parallel training through NCCL
(``spawn_fit``, one rank). Prints one line per check and exits 1 when one fails; on a machine without CUDA it
says so and exits 0.

    python bench/cuda.py          # with trainwright importable (PYTHONPATH=src)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    import torch
    from sklearn.datasets import load_digits

    from trainwright.models.neural.layers import build_mlp
    from trainwright.training.callbacks import Callback
    from trainwright.training.loop import LoopConfig, fit

    if not torch.cuda.is_available():
        print("no CUDA device: nothing checked")
        return 0
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X / 16.0, dtype=torch.float32).cuda(), torch.tensor(y).cuda()
    data = (X[:1200], y[:1200], X[1200:], y[1200:])

    def model(seed=0):
        torch.manual_seed(seed)
        return build_mlp(64, [64], 10, dropout=0.1).cuda()

    def cfg(**kw):
        return LoopConfig(**{"epochs": 8, "batch_size": 64, "checkpoint": {"enabled": False}, **kw})

    failures = []

    def check(name, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not ok:
            failures.append(name)

    from trainwright.training.loop import _precision

    trained = {}
    for precision in ("fp32", "auto", "fp16"):
        start = time.perf_counter()
        net = model()
        result = fit(net, *data, config=cfg(precision=precision), task="classification", n_classes=10,
                     device="cuda")
        accuracy = result.history[result.best_epoch - 1]["validation_accuracy"]
        autocast, scaler = _precision(cfg(precision=precision), "cuda")
        trained[precision] = torch.cat([p.detach().flatten() for p in net.parameters()])
        differs = precision == "fp32" or not torch.equal(trained[precision], trained["fp32"])
        check(f"precision={precision}", accuracy > 0.8 and next(net.parameters()).dtype == torch.float32 and differs,
              f"autocast {autocast}, gradient scaler {scaler}, validation accuracy {accuracy:.3f} (the digits after "
              f"row 1,200), weights kept in {next(net.parameters()).dtype}, "
              f"{'differ from fp32' if precision != 'fp32' and differs else 'same as fp32' if precision != 'fp32' else 'reference'}, "
              f"{time.perf_counter() - start:.1f} s")

    class StopAt(Callback):
        def on_epoch_end(self, state):
            if state.epoch == 3:
                raise KeyboardInterrupt

    with tempfile.TemporaryDirectory() as tmp:
        config = cfg(epochs=6, precision="fp16", checkpoint={"enabled": True, "every_steps": 7, "keep_last": 2},
                     regularize={"input_noise": 0.05})
        kw = dict(config=config, task="classification", n_classes=10, seed=1, signature={"arch": "a"}, device="cuda")
        whole = model()
        fit(whole, *data, checkpoint_dir=Path(tmp) / "whole", **kw)
        try:
            fit(model(), *data, checkpoint_dir=Path(tmp) / "ck", callbacks=(StopAt(),), **kw)
        except KeyboardInterrupt:
            pass
        torch.manual_seed(12345)
        torch.cuda.manual_seed_all(12345)  # a fresh process has another CUDA random state: resume restores it
        resumed = model(seed=99)
        fit(resumed, *data, checkpoint_dir=Path(tmp) / "ck", resume=True, **kw)
        same = all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))
        check("exact resume (fp16, input noise on CUDA)", same, "weights equal" if same else "weights differ")

    from trainwright.training.distributed import spawn_fit

    tensors = {"X": X[:1200].cpu(), "y": y[:1200].cpu(), "X_valid": X[1200:].cpu(), "y_valid": y[1200:].cpu(),
               "sample_weight": None}
    weights, result = spawn_fit(1, ("trainwright.models.neural.layers:build_mlp",
                                    {"n_in": 64, "hidden_sizes": [64], "n_out": 10}), tensors,
                                {"config": cfg(), "task": "classification", "n_classes": 10, "seed": 0}, "cuda")
    accuracy = result.history[result.best_epoch - 1]["validation_accuracy"]
    check("NCCL data-parallel (spawn_fit, 1 rank)", accuracy > 0.8, f"validation accuracy {accuracy:.3f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
