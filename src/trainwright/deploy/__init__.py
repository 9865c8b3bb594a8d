"""Using trained models: the predictor (export, serving and drift come later)."""

__all__: list[str] = []
