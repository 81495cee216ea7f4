"""`krat build -v` and `--host-ca`: host files lent to RUN steps, never kept in the image."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_build_cli import leftovers
from test_build_features import build, no_docker_hub  # noqa: F401 - fixture and helper

pytestmark = pytest.mark.root


def test_host_ca_reaches_run_steps_only(krat, busybox_image, tmp_path: Path) -> None:
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nkrat-test-ca\n-----END CERTIFICATE-----\n")
    log = build(krat, tmp_path, """FROM busybox
RUN grep krat-test-ca /etc/ssl/certs/ca-certificates.crt && echo "pip=$PIP_CERT ssl=$SSL_CERT_FILE"
RUN echo built > /built
""", None, "--host-ca", str(bundle))
    assert "krat-test-ca" in log
    assert "pip=/etc/ssl/certs/ca-certificates.crt ssl=/etc/ssl/certs/ca-certificates.crt" in log
    # Neither the bundle, nor its mount point, nor the variables land in the image.
    inspect = krat.ok("run", "--rm", "--network", "none", "feat:1", "sh", "-c",
                      "ls /etc/ssl 2>&1; env | grep -c CERT; cat /built").stdout
    assert "No such file" in inspect and "\n0\n" in f"\n{inspect}" and "built" in inspect
    assert leftovers(krat) == []


def test_volume_binds_a_host_path_into_run(krat, busybox_image, tmp_path: Path) -> None:
    shared = tmp_path / "wheels"
    shared.mkdir()
    (shared / "pkg.txt").write_text("from the host\n")
    log = build(krat, tmp_path, """FROM busybox
RUN cat /wheels/pkg.txt && cp /wheels/pkg.txt /copied && ! touch /wheels/new
""", None, "-v", f"{shared}:/wheels:ro")
    assert "from the host" in log
    assert not (shared / "new").exists()
    out = krat.ok("run", "--rm", "--network", "none", "feat:1", "sh", "-c", "cat /copied; ls /wheels 2>&1; true").stdout
    assert "from the host" in out and "No such file" in out


@pytest.mark.parametrize("flag, message", [
    (["-v", "relative:/x"], "does not exist"),
    (["-v", "/tmp"], "expected /HOST/PATH:/CONTAINER/PATH"),
    (["-v", "/tmp:/x:rx"], "mode must be ro or rw"),
    (["--host-ca", "/no/such/bundle.pem"], "no such file"),
])
def test_bad_volume_flags_fail_in_one_line(krat, tmp_path: Path, flag: list[str], message: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    err = krat.fails("build", *flag, str(ctx), code=1)
    assert message in err and len(err.splitlines()) == 1
