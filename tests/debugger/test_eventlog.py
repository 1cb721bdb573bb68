"""emu/eventlog.py: the machine's events in columns behave as the list of
Events they replace."""
from emu.eventlog import EventLog
from emu.machine import Event


def _events():
    report = object()
    return [Event("split", 10, 0x400100, {"morepc": 0x400123, "size": 4096}),
            Event("unsplit", 20, 0x400200, {"cret": 5, "stktop": 0xC000004000}),
            Event("gc", 30, 0x400300, {"report": report}),
            Event("boot", 1, 0x400000, {"g": 0xF840000000}),
            Event("odd", 40, 0x400400, {"neg": -1}),
            Event("exit", 50, 0x400500, {}),
            Event("unsplit", 60, 0x400200, {"cret": 7, "stktop": 0xC000008000})]


def test_columns_give_back_the_events():
    evs = _events()
    log = EventLog(Event)
    log.extend(evs[:4])
    for e in evs[4:]:
        log.append(e)
    assert len(log) == len(evs) and log == evs and list(log) == evs
    assert log[-1] == evs[-1] and log[2].detail["report"] is evs[2].detail["report"]
    assert log[1:3] == evs[1:3] and list(reversed(log)) == evs[::-1]
    # the debugger's restore: cut at the end, then the run goes on
    del log[3:]
    assert log == evs[:3]
    log.append(evs[6])
    assert log == evs[:3] + [evs[6]]
    del log[0:]
    assert len(log) == 0 and log == []


def test_a_run_keeps_its_events_compactly():
    from pathlib import Path

    from emu.run import load_program, new_machine
    demo = Path(__file__).resolve().parents[2] / "emu" / "demos" / "leak_amd64.s"
    mc = new_machine("amd64", "buggy", load_program(demo))
    mc.run()
    evs = mc.events
    kinds = [e.kind for e in evs]
    assert "split" in kinds and "unsplit" in kinds
    assert all(evs[i].icount <= evs[i + 1].icount for i in range(len(evs) - 1))
    assert evs.nbytes() < 80 * len(evs)


def test_typed_columns_give_back_the_events_and_cut_cleanly():
    """The native drain's whole-column append (extend_typed) gives the same
    events as appending them one by one, also after a cut and a copy."""
    import numpy as np
    names, keys = ["split", "unsplit", "lessstack"], [("framesize", "morepc"), ("cret", "stktop"), ("ret",)]
    which = np.array([0, 1, 2, 2, 0, 1, 1, 2])
    icounts = np.arange(8) * 10 + 3
    pcs = np.array([0x400100, 0x400200, 0x400300, 0x400300, 0x400100, 0x400200, 0x400200, 0x400300], np.uint64)
    vals = [np.array([[4096, 0x4001], [8192, 0x4002]], np.uint64),
            np.array([[5, 0xC000004000], [0, 7], [2**64 - 1, 0]], np.uint64),
            np.array([[1], [2], [3]], np.uint64)]
    want, seen = [], [0, 0, 0]
    for i, t in enumerate(which.tolist()):
        row = vals[t][seen[t]].tolist()
        seen[t] += 1
        want.append(Event(names[t], int(icounts[i]), int(pcs[i]), dict(zip(keys[t], row))))
    log = EventLog(Event)
    log.append(Event("boot", 1, 0x400000, {"g": 5}))
    log.extend_typed(names, keys, which, icounts, pcs, vals)
    assert log == [Event("boot", 1, 0x400000, {"g": 5})] + want
    assert log.count("unsplit") == 3 and log.count("gc") == 0
    copy = log.copy()
    del log[4:]
    assert log == [Event("boot", 1, 0x400000, {"g": 5})] + want[:3]
    log.extend_typed(names, keys, which, icounts, pcs, vals)
    assert log == [Event("boot", 1, 0x400000, {"g": 5})] + want[:3] + want
    assert copy == [Event("boot", 1, 0x400000, {"g": 5})] + want
