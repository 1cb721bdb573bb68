import pytest
from repl_helpers import batch


@pytest.fixture
def run_batch(tmp_path):
    return lambda arch, variant, script, program=None: batch(tmp_path, arch, variant, script, program)
