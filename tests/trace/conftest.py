import pytest
from trace_support import make_trace


@pytest.fixture(scope="session")
def traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("traces")
    out = {}
    for arch in ("amd64", "arm"):
        for v in ("buggy", "fixed"):
            p = d / f"{arch}-{v}.gtr"
            make_trace(p, arch, v)
            out[arch, v] = p
    out["dir"] = d
    return out
