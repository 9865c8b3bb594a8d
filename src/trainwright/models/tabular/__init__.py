"""Learners for tables: gradient-boosted trees (LightGBM), linear models and an MLP. Each module registers
its learner; importing one never imports LightGBM, scikit-learn or torch."""

__all__: list[str] = []
