import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors gain nothing from a second thread, and its OpenMP spin-waits cost 30x when
    # another process shares the 2 cores (DESIGN.md, speed habits).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
