"""Augmentation of training rows (text here; images are augmented per batch by the training loop)."""
