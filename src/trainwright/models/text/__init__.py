"""Sequence models for text written here: an embedding with a bidirectional GRU (``text_gru``) and a Transformer
encoder (``text_transformer``), both trained from scratch on the token ids of ``features.text: tokens``."""
