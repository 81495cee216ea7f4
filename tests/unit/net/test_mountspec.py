import pytest

from krat.engine.mountspec import MountRequest, parse_mount, parse_tmpfs, parse_volume
from krat.errors import InvalidArgument


@pytest.mark.parametrize("text,expected", [
    ("data:/data", MountRequest("volume", "/data", "data")),
    ("data:/data:ro", MountRequest("volume", "/data", "data", readonly=True)),
    ("/srv:/srv:rw,U", MountRequest("bind", "/srv", "/srv", chown=True)),
    ("/srv:/srv:ro,rshared", MountRequest("bind", "/srv", "/srv", readonly=True, propagation="rshared")),
    ("/cache", MountRequest("volume", "/cache")),
    ("/cache:ro", MountRequest("volume", "/cache", readonly=True)),
    ("data:/data:nocopy", MountRequest("volume", "/data", "data", nocopy=True)),
])
def test_parse_volume(text, expected):
    assert parse_volume(text) == expected


@pytest.mark.parametrize("text,fragment", [
    ("a/b:/data", "invalid volume name 'a/b'"),
    ("data:relative", "not an absolute path"),
    ("data:/data:bogus", "unknown option 'bogus'"),
    ("x:/data", "invalid volume name 'x'"),
    ("data:/", "cannot mount over /"),
])
def test_parse_volume_rejects(text, fragment):
    with pytest.raises(InvalidArgument) as err:
        parse_volume(text)
    assert fragment in str(err.value)


def test_parse_mount():
    assert parse_mount("type=volume,source=data,target=/data,readonly,volume-nocopy") == \
        MountRequest("volume", "/data", "data", readonly=True, nocopy=True)
    assert parse_mount("type=bind,src=/etc,dst=/host-etc,ro=true,bind-propagation=rslave") == \
        MountRequest("bind", "/host-etc", "/etc", readonly=True, propagation="rslave")
    assert parse_mount("type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=700") == \
        MountRequest("tmpfs", "/scratch", tmpfs_size=1 << 20, tmpfs_mode=0o700)
    assert parse_tmpfs("/run:size=64k") == MountRequest("tmpfs", "/run", tmpfs_size=64 << 10)


@pytest.mark.parametrize("text,fragment", [
    ("type=nfs,target=/x", "type must be"),
    ("type=bind,source=rel,target=/x", "absolute"),
    ("type=volume,source=data", "target is required"),
    ("type=tmpfs,target=/x,tmpfs-size=lots", "invalid size"),
    ("type=volume,source=data,target=/x,tmpfs-size=1m", "unexpected key"),
])
def test_parse_mount_rejects(text, fragment):
    with pytest.raises(InvalidArgument) as err:
        parse_mount(text)
    assert fragment in str(err.value)
