"""Bad input to run/create: one clear line, Docker's exit code, no traceback, nothing left."""

from __future__ import annotations

import pytest

from engine_helpers import assert_nothing_left

pytestmark = pytest.mark.root


@pytest.mark.parametrize("args,code,needle", [
    (["nosuchimage"], 125, "No such image"),
    (["--bogus-flag", "busybox"], 125, "--bogus-flag"),
    (["--memory", "abc", "busybox", "true"], 125, "--memory 'abc'"),
    (["--entrypoint", "", "busybox"], 125, "no command specified"),
    (["busybox", "nosuchcmd"], 127, "nosuchcmd"),
    (["busybox", "/etc"], 126, "/etc"),
    (["-u", "nobody2", "busybox", "true"], 125, "unable to find user nobody2"),
    (["--restart", "always", "--rm", "busybox", "true"], 125, "--restart and --rm"),
    (["--ulimit", "nofile=10:5", "busybox", "true"], 125, "--ulimit"),
    (["--cap-add", "NOT_A_CAP", "busybox", "true"], 125, "unknown capability"),
    (["--name", "bad/name", "busybox", "true"], 125, "invalid container name"),
])
def test_run_rejects_bad_input_cleanly(kr, args, code, needle):
    for detach in ([], ["-d"]):
        err = kr.fails("run", *detach, *args, code=code)
        assert needle in err and len(err.splitlines()) == 1, err
    assert_nothing_left(kr)


def test_unknown_container(kr):
    for argv in (["start", "ghost"], ["stop", "ghost"], ["logs", "ghost"], ["inspect", "ghost"],
                 ["exec", "ghost", "true"], ["wait", "ghost"], ["rm", "ghost"], ["kill", "ghost"]):
        err = kr(*argv)
        assert err.returncode != 0 and "ghost" in err.stderr and "Traceback" not in err.stderr
    # neither a container nor an image: Docker's words
    assert kr.fails("inspect", "ghost") == "Error: No such object: ghost"
    assert kr.fails("inspect", "Not/A:Reference") == "Error: No such object: Not/A:Reference"


def test_same_name_twice(kr):
    kr.ok("create", "--name", "twin", "busybox", "true")
    err = kr.fails("create", "--name", "twin", "busybox", "true")
    assert 'name "/twin" is already in use' in err


@pytest.mark.parametrize("rule,needle", [
    ({"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}, "unknown action 'SCMP_ACT_BOGUS'"),
    ({"names": "mkdir", "action": "SCMP_ACT_ERRNO"}, "names: expected a list"),
])
def test_a_seccomp_profile_the_runtime_refuses(kr, tmp_path, rule, needle):
    """The runtime's creator refuses the profile while the init forked ahead is on its mounts
    (it parses the rest of the document only): one line, 125, nothing left."""
    import json

    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}))
    import re

    ids = []
    for args in (["--rm", "--network", "none"], ["-d"]):
        err = kr.fails("run", *args, "--security-opt", f"seccomp={profile}", "busybox", "true", code=125)
        assert needle in err and len(err.splitlines()) == 1, err
        ids += re.findall(r"/containers/([0-9a-f]{64})/", err)   # the bundle's path names it
    assert len(ids) == 2
    assert_nothing_left(kr, ids)   # its cgroups too
