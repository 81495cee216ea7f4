"""The early init's warm-up: the sample it runs its code over, and that it never holds up a request."""

from __future__ import annotations

import _socket

from krat.oci import jsoncodec as json
from krat.oci.runtime import Spec
from krat.runtime import earlyinit


def test_the_sample_is_a_spec_an_early_init_serves_with_the_usual_parts():
    spec = Spec.from_json(json.loads(earlyinit._SAMPLE))
    assert earlyinit.serves(spec, earlyinit.pids_limit_ok(spec))
    assert spec.process.capabilities is not None and spec.linux.seccomp is not None
    assert {m.type for m in spec.mounts} >= {"proc", "tmpfs", "cgroup", "bind"}
    assert spec.linux.masked_paths and spec.linux.readonly_paths and spec.linux.resources.devices


def test_a_waiting_request_stops_the_warm_up_and_stays_unread():
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        assert not earlyinit._waiting(ours)
        theirs.send(b"request")
        assert earlyinit._waiting(ours)
        earlyinit._warm_up(ours)
        assert ours.recv(64) == b"request"
        theirs.close()   # EOF (released) counts as there, too: the init goes to read it
        assert earlyinit._waiting(ours)
    finally:
        ours.close()
        theirs.close()


def test_the_init_parses_the_document_without_the_profile_it_never_reads():
    doc = json.loads(earlyinit._SAMPLE)
    spec = Spec.from_json(earlyinit._without_seccomp(doc))
    assert spec.linux.seccomp is None and spec.linux.masked_paths and spec.process.capabilities is not None
    # With a terminal it checks the profile too: it connects to the console socket before
    # the creator could refuse the spec for it.
    doc = json.loads(earlyinit._SAMPLE)
    doc["process"]["terminal"] = True
    assert Spec.from_json(earlyinit._without_seccomp(doc)).linux.seccomp is not None


def test_a_cgroup_namespace_is_made_ahead_where_specs_have_one(monkeypatch):
    from krat.runtime import creation

    class Entered:
        def __init__(self, v2):
            self.v2 = v2

    monkeypatch.setattr(creation, "_entered", (Entered(False), 1))
    assert not earlyinit._cgroupns_likely()   # v1: Docker's specs share the host's
    monkeypatch.setattr(creation, "_entered", (Entered(True), 1))
    assert earlyinit._cgroupns_likely()
    monkeypatch.setattr(creation, "_entered", None)
    monkeypatch.setattr(creation, "_made", (Entered(False), 1))   # made by a monitor that stays outside
    assert not earlyinit._cgroupns_likely()
    monkeypatch.setattr(creation, "_made", None)
    assert earlyinit._cgroupns_likely()       # not known: made ahead, as before
