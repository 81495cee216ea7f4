import pytest

from krat.errors import InvalidArgument
from krat.oci import Digest, parse_reference

HEX = "a" * 64


@pytest.mark.parametrize(
    "text, full, familiar",
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("index.docker.io/library/x", "docker.io/library/x:latest", "x:latest"),
        ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("ghcr.io/o/r", "ghcr.io/o/r:latest", "ghcr.io/o/r:latest"),
        (f"busybox@sha256:{HEX}", f"docker.io/library/busybox@sha256:{HEX}", f"busybox@sha256:{HEX}"),
        (f"a/b:t@sha256:{HEX}", f"docker.io/a/b:t@sha256:{HEX}", f"a/b:t@sha256:{HEX}"),
        ("my-app__x.y", "docker.io/library/my-app__x.y:latest", "my-app__x.y:latest"),
    ],
)
def test_normalises_like_docker(text, full, familiar):
    ref = parse_reference(text)
    assert str(ref) == full
    assert ref.familiar == familiar


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("Busybox", "lowercase"),
        ("a//b", "empty path component"),
        ("a:b:c", "bad"),
        ("-a", "bad path component"),
        ("a@sha256:123", "64"),
        ("a:" + "t" * 200, "bad tag"),
    ],
)
def test_rejects_bad_references(text, fragment):
    with pytest.raises(InvalidArgument) as info:
        parse_reference(text)
    assert fragment in str(info.value)


def test_digest_round_trip():
    d = Digest.parse(f"sha256:{HEX}")
    assert str(d) == f"sha256:{HEX}" and d.short == HEX[:12]
    with pytest.raises(InvalidArgument):
        Digest.parse("md5:abc")
