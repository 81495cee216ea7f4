"""`krat cp` by Docker's rules (a directory, its contents with a final `/.`, a destination
that must exist when it ends with `/`), and never through a symlink the container planted."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def box(kr):
    kr.ok("run", "-d", "--name", "cpbox", "--network", "none", "busybox", "sh", "-c",
          "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b && sleep 300")
    from engine_helpers import wait_for

    wait_for(lambda: kr("exec", "cpbox", "test", "-e", "/data/sub/b").returncode == 0, what="the files")
    yield kr
    kr("rm", "-f", "cpbox")


def listing(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files)


def test_copy_out_a_directory_its_contents_or_a_file(box, tmp_path):
    kr = box
    kr.ok("cp", "cpbox:/data", str(tmp_path / "new"))               # a new name: the directory as it
    assert listing(tmp_path / "new") == ["a", "sub", "sub/b"]
    (tmp_path / "there").mkdir()
    kr.ok("cp", "cpbox:/data", str(tmp_path / "there"))             # an existing directory: into it
    assert listing(tmp_path / "there") == ["data", "data/a", "data/sub", "data/sub/b"]
    (tmp_path / "flat").mkdir()
    kr.ok("cp", "cpbox:/data/.", str(tmp_path / "flat"))            # /. : its contents
    assert listing(tmp_path / "flat") == ["a", "sub", "sub/b"]
    err = kr.fails("cp", "cpbox:/data/a", str(tmp_path / "nodir") + "/")
    assert "no such directory" in err and not (tmp_path / "nodir").exists()
    (tmp_path / "file").write_text("x")
    assert "cannot copy a directory to a file" in kr.fails("cp", "cpbox:/data", str(tmp_path / "file"))


def test_copy_out_a_link_as_a_link_or_with_l_its_target(box, tmp_path):
    kr = box
    kr.ok("exec", "cpbox", "ln", "-s", "/data/a", "/data/link")
    kr.ok("cp", "cpbox:/data/link", str(tmp_path / "as-link"))
    assert os.readlink(tmp_path / "as-link") == "/data/a"
    kr.ok("cp", "-L", "cpbox:/data/link", str(tmp_path / "followed"))
    assert (tmp_path / "followed").read_text() == "a\n" and not (tmp_path / "followed").is_symlink()


def test_copy_in_a_directory_its_contents_or_a_file(box, tmp_path):
    kr = box
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "one").write_text("1")
    (src / "deep" / "two").write_text("2")
    kr.ok("cp", str(src), "cpbox:/data")                             # into the existing directory
    kr.ok("cp", str(src) + "/.", "cpbox:/data/sub")                  # its contents
    kr.ok("cp", str(src / "one"), "cpbox:/data/renamed")             # a file under a new name
    out = kr.ok("exec", "cpbox", "sh", "-c", "cd /data && find . | sort; stat -c '%u:%g' src/one").stdout
    assert out.split() == [".", "./a", "./renamed", "./src", "./src/deep", "./src/deep/two", "./src/one",
                           "./sub", "./sub/b", "./sub/deep", "./sub/deep/two", "./sub/one", "0:0"]
    assert "no such directory" in kr.fails("cp", str(src / "one"), "cpbox:/nowhere/")
    os.chown(src / "one", 1234, 5678)
    kr.ok("cp", "-a", str(src / "one"), "cpbox:/data/kept")          # -a: the host's owners
    assert kr.ok("exec", "cpbox", "stat", "-c", "%u:%g", "/data/kept").stdout == "1234:5678\n"


def test_copy_in_never_writes_through_a_symlink_the_container_planted(box, tmp_path):
    """The container points /data/trap/secret at a host path (absolute, as the host sees it);
    copying a directory `trap` holding `secret` into /data replaces the link inside the
    container and leaves the host file alone."""
    kr = box
    host = tmp_path / "host"
    host.mkdir()
    host_file = host / "host-secret"
    host_file.write_text("host\n")
    kr.ok("exec", "cpbox", "sh", "-c", f"mkdir /data/trap && ln -s {host_file} /data/trap/secret "
                                       f"&& ln -s {host} /data/trapdir")
    src = tmp_path / "in" / "trap"
    src.mkdir(parents=True)
    (src / "secret").write_text("from cp\n")
    kr.ok("cp", str(src), "cpbox:/data")
    assert host_file.read_text() == "host\n"
    assert kr.ok("exec", "cpbox", "cat", "/data/trap/secret").stdout == "from cp\n"
    # a directory symlink on the way is the container's own /data/trapdir -> (its) tmp path,
    # resolved inside the container, never the host's
    kr("cp", str(src / "secret"), "cpbox:/data/trapdir/secret")
    assert sorted(os.listdir(host)) == ["host-secret"]
