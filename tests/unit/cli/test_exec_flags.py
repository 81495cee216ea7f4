"""`krat exec`'s quick flag reader agrees with its argparse definition, and leaves the rest to it."""

from __future__ import annotations

import pytest

from krat.cli.commands.exec import parse, quick_parse
from krat.errors import InvalidArgument

COMMON = [
    ["box", "true"],
    ["-it", "box", "sh"],
    ["-dit", "box", "sh"],
    ["-i", "-t", "box", "sh", "-c", "echo $X"],
    ["-e", "X=2", "-w", "/tmp", "box", "sh", "-c", "echo $X $(pwd)"],
    ["-u", "nobody", "box", "id", "-u"],
    ["--user=nobody", "--workdir=/tmp", "--env=A=1", "box", "id"],
    ["-ie", "K=V", "box", "cat"],
    ["--env", "A", "--env-file", "vars.env", "--privileged", "--detach", "box", "x"],
    ["box", "-it", "--not-a-krat-flag"],
]


@pytest.mark.parametrize("argv", COMMON)
def test_common_forms_read_as_argparse_reads_them(argv):
    quick = quick_parse(argv)
    assert quick is not None
    assert vars(quick) == vars(parse(argv))


@pytest.mark.parametrize("argv", [["-eK=V", "box", "x"], ["--inter", "box", "x"], ["--", "box", "x"],
                                  ["-e", "-x", "box"], ["-x", "box"], ["--tty=1", "box"], ["-i"], []])
def test_other_forms_go_to_argparse(argv):
    assert quick_parse(argv) is None


def test_argparse_errors_are_one_line():
    with pytest.raises(InvalidArgument, match="krat exec"):
        parse(["-x", "box"])
