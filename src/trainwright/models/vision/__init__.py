"""Learners for images: a small CNN (optionally pretrained) and a small ResNet. The module registers them."""

__all__: list[str] = []
