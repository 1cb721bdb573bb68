import json

from emu.trace.cli import main


def test_cli_trace_diff_show(tmp_path, capsys):
    a, b = tmp_path / "a.gtr", tmp_path / "b.gtr"
    assert main(["trace", "--arch", "amd64", "--variant", "buggy", "-o", str(a)]) == 0
    assert main(["trace", "--arch", "amd64", "--variant", "fixed", "-o", str(b), "--max-insns", "100000"]) == 0
    capsys.readouterr()
    assert main(["diff", str(a), str(b), "--json", "--html", str(tmp_path / "d.html")]) == 1
    j = json.loads(capsys.readouterr().out)
    assert len(j["hunks"]) == 2 and j["gc"][0]["retained_only_in_a"][0]["root"] == "m0.cret"
    assert (tmp_path / "d.html").read_text().startswith("<!doctype html>")
    assert main(["trace-show", str(b), "--grep", "oldstack", "-n", "2"]) == 0
    assert "oldstack" in capsys.readouterr().out
    cret = 0
    with __import__("emu.trace.native", fromlist=["x"]).NativeReader(b) as rd:
        cret = next(x[0] for x in rd.header["data_names"] if x[2] == "m0.cret")
    assert main(["trace-show", str(b), "--first-write", hex(cret)]) == 0
    assert "m0.cret" in capsys.readouterr().out
    assert main(["trace", "--arch", "arm", "-o", str(tmp_path / "c.gtr"), "--max-insns", "50"]) == 0
    # read it back: exactly the first 50 instructions of the ARM run, from the entry point on
    from emu.trace.native import NativeReader
    with NativeReader(tmp_path / "c.gtr") as rd:
        recs = list(rd)
        assert rd.header["arch"] == "arm" and rd.header["variant"] == "buggy"
    assert [r.index for r in recs] == list(range(50))
    assert main(["trace", "--arch", "arm", "-o", str(tmp_path / "d.gtr")]) == 0     # the whole run
    with NativeReader(tmp_path / "d.gtr") as full:
        prefix = [(r.index, r.pc, r.regs, r.mem) for r, _ in zip(full, range(50))]
        assert sum(1 for _ in full) > 50
    assert [(r.index, r.pc, r.regs, r.mem) for r in recs] == prefix
    (tmp_path / "bad.gtr").write_bytes(b"nope")
    assert main(["trace-show", str(tmp_path / "bad.gtr")]) == 1
    assert "record 0" in capsys.readouterr().err
