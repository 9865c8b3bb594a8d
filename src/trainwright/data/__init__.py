"""Data: reading tables, the schema, the quality audit, cleaning with a log, splits, balancing and features.

Level-2 entry points, each callable alone::

    >>> import pandas as pd, trainwright.data
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 2.0, 3.0] * 10, "y": ["a", "b", "b", "a"] * 10})
    >>> trainwright.data.audit(frame, target="y").by_check("exact_duplicates")[0].count
    37
    >>> trainwright.data.split_rows(100, seed=0).sizes()
    {'train': 70, 'validation': 20, 'test': 10}

Names load on first use, so importing one data module does not import them all.
"""

from __future__ import annotations

from trainwright.exports import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "audit": "trainwright.data.quality.audit",
    "AuditConfig": "trainwright.data.quality.config",
    "AuditReport": "trainwright.data.quality.findings",
    "read_table": "trainwright.data.sources",
    "infer_schema": "trainwright.data.schema",
    "infer_task": "trainwright.data.schema",
    "split_rows": "trainwright.data.split",
    "cross_validation_folds": "trainwright.data.split",
    "Splits": "trainwright.data.split",
    "clean_before_split": "trainwright.data.clean",
    "clean_after_split": "trainwright.data.clean",
    "CleaningLog": "trainwright.data.clean",
    "Preprocessor": "trainwright.data.features.preprocessor",
    "add_time_features": "trainwright.data.features.lags",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
