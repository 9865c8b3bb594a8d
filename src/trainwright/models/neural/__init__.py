"""Neural learners by data kind; they train with trainwright.training.loop."""

__all__: list[str] = []
