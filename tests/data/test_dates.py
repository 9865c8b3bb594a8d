"""Dates are read value by value: a row's date (and its features) never depends on the rows beside it."""

import numpy as np
import pandas as pd

from trainwright.data.dates import epoch_seconds, parse_dates
from trainwright.data.features import Preprocessor


def test_a_value_parses_the_same_alone_and_in_any_batch():
    alone = parse_dates(pd.Series(["01/02/2021"]))[0]
    behind_day_first = parse_dates(pd.Series(["13/01/2021", "01/02/2021"]))[1]
    behind_iso = parse_dates(pd.Series(["2021-05-06", "01/02/2021"]))[1]
    assert alone == behind_day_first == behind_iso


def test_date_features_of_a_row_do_not_depend_on_the_batch():
    train = pd.DataFrame({"when": [f"{d:02d}/0{m}/2021" for d in range(1, 29) for m in (1, 2, 3)]})
    pre = Preprocessor({"when": "datetime"}).fit(train)
    alone = pre.transform(pd.DataFrame({"when": ["01/02/2021"]}))[0]
    in_batch = pre.transform(pd.DataFrame({"when": ["13/01/2021", "01/02/2021"]}))[1]
    assert np.array_equal(alone, in_batch)


def test_mixed_offsets_and_text_that_is_no_date():
    seconds = epoch_seconds(pd.Series(["2021-01-01T00:00:00+01:00", "2021-01-01T00:00:00Z", "soon"]))
    assert seconds[1] - seconds[0] == 3600 and np.isnan(seconds[2])
