"""`krat run`/`create` flags: the lean table parser reads Docker's command lines, as argparse
read the same table before, and fails with Docker's one-line messages."""

from __future__ import annotations

import argparse

import pytest

from krat.cli import netflags
from krat.cli.container_flags import FLAGS, parse_flags
from krat.cli.flags import add_to_argparse
from krat.errors import InvalidArgument

ROWS = FLAGS + netflags.ENGINE_FLAGS + netflags.FLAGS


def argparse_reading(argv: list[str]) -> dict:
    """How the argparse parser `krat run` used to build reads argv."""
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_to_argparse(p, ROWS)
    p.add_argument("image")
    p.add_argument("command", nargs="...")
    return vars(p.parse_args(argv))


COMMON = [
    ["busybox"],
    ["busybox", "true"],
    ["--rm", "--network", "none", "busybox", "true"],
    ["-it", "busybox", "sh"],
    ["-dit", "--name", "web", "-p", "8080:80", "-p", "127.0.0.1::53/udp", "busybox", "httpd", "-f"],
    ["-e", "A=1", "--env=B=2", "-eC=3", "-e=D=4", "--env-file", "x.env", "busybox", "env"],
    ["-v", "data:/data", "--volume=/a:/b:ro", "--mount", "type=tmpfs,target=/t", "--tmpfs", "/run",
     "--volumes-from", "other:ro", "busybox"],
    ["--net=host", "--add-host", "db:10.1.2.3", "--dns", "1.1.1.1", "--dns-opt", "ndots:2", "--dns-search", "x",
     "--net-alias", "a", "--network-alias", "b", "--ip", "10.0.0.5", "--mac-address", "02:42:ac:11:00:02",
     "--expose", "80", "-P", "busybox"],
    ["-m", "64m", "--memory-swap", "128m", "--cpus", "1.5", "-c", "512", "--cpu-shares=256", "--pids-limit", "-1",
     "--stop-timeout", "3", "--stop-signal", "SIGUSR1", "--shm-size", "1g", "busybox"],
    ["--privileged", "--cap-add", "NET_ADMIN", "--cap-drop=ALL", "--security-opt", "no-new-privileges",
     "--read-only", "--ulimit", "nofile=10:20", "--device", "/dev/null:/dev/n", "busybox"],
    ["-u", "nobody", "-w", "/tmp", "-h", "box", "-l", "a=b", "--label", "c=d", "--entrypoint", "", "--init",
     "--restart", "on-failure:3", "--pid", "host", "--ipc", "shareable", "--runtime", "runc", "busybox"],
    ["--log-driver", "json-file", "--log-opt", "max-size=1m", "--pull", "never", "--platform", "linux/amd64",
     "busybox"],
    ["busybox", "sh", "-c", "echo --rm -d", "--name", "x"],     # the command keeps its flags
    ["-d", "busybox", "--", "ls"],
    ["-d", "--", "busybox", "ls"],
    ["busybox", "sh", "--", "x"],
    ["busybox", "--"],
]


@pytest.mark.parametrize("argv", COMMON)
def test_common_command_lines_read_as_argparse_read_them(argv):
    assert vars(parse_flags("run", "", argv)) == argparse_reading(argv)


def test_defaults_are_fresh_lists():
    first = parse_flags("run", "", ["-e", "A=1", "busybox"])
    second = parse_flags("run", "", ["busybox"])
    assert first.env == ["A=1"] and second.env == [] and second.publish == []


def test_docker_forms_argparse_refused():
    args = parse_flags("run", "", ["-e", "-x", "--rm=false", "-d=true", "-it=false", "busybox"])
    assert args.env == ["-x"] and args.rm is False and args.detach is True
    assert args.interactive is True and args.tty is False


@pytest.mark.parametrize("argv,message", [
    (["--bogus", "busybox"], "krat run: unknown flag: --bogus"),
    (["--priv", "busybox"], "krat run: unknown flag: --priv"),          # no abbreviations, as Docker
    (["-x", "busybox"], "krat run: unknown shorthand flag: 'x' in -x"),
    (["-dx", "busybox"], "krat run: unknown shorthand flag: 'x' in -dx"),
    (["busybox", "--name"], None),                                      # the command's, not ours
    (["--name"], "krat run: flag needs an argument: --name"),
    (["-de"], "krat run: flag needs an argument: 'e' in -e"),
    (["--cpu-shares", "lots", "busybox"], 'krat run: invalid argument "lots" for "--cpu-shares" flag'),
    (["--rm=maybe", "busybox"], 'krat run: invalid argument "maybe" for "--rm" flag'),
    ([], '"krat run" requires at least 1 argument'),
    (["--rm", "--"], '"krat run" requires at least 1 argument'),
])
def test_errors_are_dockers_one_line(argv, message):
    if message is None:
        assert parse_flags("run", "", argv).command == ["--name"]
        return
    with pytest.raises(InvalidArgument) as err:
        parse_flags("run", "", argv)
    assert err.value.message.startswith(message) and "\n" not in err.value.message


def test_help_lists_every_flag(capsys):
    assert parse_flags("create", "Create a new container", ["--rm", "--help", "busybox"]) is None
    out = capsys.readouterr().out
    assert out.startswith("Usage:  krat create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate a new container\n")
    for names, *_ in ROWS:
        for name in names.split():
            assert f"{name}," in out or f"{name} " in out, name
    assert "  -h, --hostname NAME " in out and "  -d, --detach " in out


def test_netflags_on_argparse_still_read_the_engine_flags():
    p = argparse.ArgumentParser()
    netflags.add_arguments(p, engine_flags=True)
    args = p.parse_args(["-v", "a:/a", "--add-host", "db:10.1.2.3", "-p", "80", "--tmpfs", "/t"])
    assert args.volume == ["a:/a"] and args.add_host == ["db:10.1.2.3"] and args.publish == ["80"]
    assert args.tmpfs == ["/t"] and args.network == "bridge" and args.ip is None


@pytest.mark.parametrize("argv, expected", [
    (["--rm", "--network", "none", "busybox", "true"], True),
    (["--net=none", "busybox"], True),
    (["--network=none", "-d", "busybox"], True),
    (["--rm", "busybox", "true"], False),                     # the default bridge
    (["--network", "host", "busybox"], False),
    (["--network", "nonet", "busybox"], False),
    (["--network"], False),
])
def test_run_tells_the_monitor_early_whether_the_container_gets_its_own_network(argv, expected):
    """Before parsing, `run` tells its monitor whether to make the network namespace ahead
    (only --network none keeps it); a wrong guess costs time, never correctness."""
    from krat.cli.commands.run import asks_network_none

    assert asks_network_none(argv) is expected


@pytest.mark.parametrize("argv, expected", [
    (["--rm", "busybox", "true"], True),
    (["--rm=true", "-d", "busybox"], True),
    (["-d", "busybox", "true"], False),
    (["--rm=false", "busybox"], False),
])
def test_run_tells_the_monitor_early_whether_the_container_goes_with_its_exit(argv, expected):
    """Before parsing, `run` tells its monitor whether to load the removal's code ahead."""
    from krat.cli.commands.run import asks_removal

    assert asks_removal(argv) is expected


@pytest.mark.parametrize("argv, expected", [
    (["-d", "busybox", "sleep", "9"], True),
    (["--detach", "busybox"], True),
    (["-dit", "--rm", "busybox", "sh"], True),
    (["-itd", "busybox", "sh"], True),
    (["--rm", "-it", "busybox", "sh"], False),
    (["--rm", "--network", "none", "busybox", "true"], False),
    (["--detach-keys", "ctrl-a", "busybox"], False),
    (["--dns", "10.0.0.1", "busybox"], False),
])
def test_run_tells_the_monitor_early_whether_it_runs_detached(argv, expected):
    """Before parsing, `run` tells its monitor whether it will run detached (a child of the
    monitor then creates the container, so an idle monitor stays small) or in the
    foreground (the monitor creates it itself, sooner)."""
    from krat.cli.commands.run import asks_detach

    assert asks_detach(argv) is expected
