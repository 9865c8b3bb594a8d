"""The neural training loop and its runtime (threads, device)."""

__all__: list[str] = []
