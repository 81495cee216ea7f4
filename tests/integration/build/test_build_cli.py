"""`krat build` end to end as root: real layers, RUN in krat containers, the cache, errors.

Every test checks that nothing is left behind: no mounts under the test's state,
no working directories, no runtime state, and (for failures) no image or tag.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

SEED = """FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN echo "installing $(cat requirements.txt)" && mkdir -p /opt/venv && cp requirements.txt /opt/venv/installed.txt
COPY app.py .
EXPOSE 5000
CMD ["sh", "-c", "cat /opt/venv/installed.txt /app/app.py"]
"""


@pytest.fixture(autouse=True)
def no_docker_hub(krat, tmp_path: Path) -> None:
    """Unknown names must fail here, never reach out to Docker Hub."""
    conf = tmp_path / "registries.conf"
    conf.write_text('[[registry]]\nlocation = "docker.io"\nblocked = true\n')
    krat.env["KRAT_REGISTRIES_CONF"] = str(conf)


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "requirements.txt").write_text("flask==3.1.3\n")
    (root / "app.py").write_text("print('hello from app')\n")
    (root / "Dockerfile").write_text(SEED)
    return root


def leftovers(krat) -> list[str]:
    found = []
    prefix = str(krat.root.parent.resolve())
    found += [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(prefix)]
    build_tmp = krat.root / "tmp" / "build"
    if build_tmp.is_dir():
        found += [str(p) for p in build_tmp.iterdir()]
    state = krat.runroot / "build-runtime"
    if state.is_dir():
        found += [str(p) for p in state.iterdir() if not p.name.startswith(".")]  # runtime caches
    from krat.build.sandbox import container_prefix

    mine = container_prefix(krat.root.absolute())
    found += [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/krat-build/{mine}-*") if p.is_dir()]
    return found


def image_config(krat, ref: str) -> dict:
    out = krat.ok("image", "inspect", ref).stdout
    doc = json.loads(out)
    return doc[0] if isinstance(doc, list) else doc


def run_image(krat, ref: str) -> str:
    """`krat run --rm` when the engine provides it; else the image's CMD in a build sandbox."""
    from krat.cli.main import load_verb

    if load_verb("run") is not None:
        return krat.ok("run", "--rm", ref).stdout
    import sys

    code = f"""
import sys
from krat.engine.config import Paths
from krat.build.storebackend import StoreBackend
from krat.build.backend import RunSpec
b = StoreBackend(Paths.resolve({str(krat.root)!r}, {str(krat.runroot)!r}))
img = b.images.resolve({ref!r})
c = img.config
upper = b.workdir("check")
out = []
code = b.run([l for l in img.layer_dirs], upper, RunSpec(c["Cmd"], c.get("Env", []), c.get("WorkingDir") or "/",
             network="none"), out.append)
b.release(upper)
sys.stdout.write(b"".join(out).decode())
sys.exit(code)
"""
    proc = subprocess.run([sys.executable, "-c", code], env=krat.env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_seed_app_builds_and_runs(krat, busybox_image, ctx) -> None:
    proc = krat.ok("build", "-t", "seed:1", "-t", "seed:latest", "--progress", "plain", str(ctx))
    image_id = proc.stdout.strip().splitlines()[-1]
    assert "installing flask==3.1.3" in proc.stderr        # RUN output is streamed
    config = image_config(krat, "seed:1")
    assert config["Id"] == image_id
    assert config["Config"]["WorkingDir"] == "/app"
    assert config["Config"]["ExposedPorts"] == {"5000/tcp": {}}
    assert image_config(krat, "seed:latest")["Id"] == image_id
    assert run_image(krat, "seed:1") == "flask==3.1.3\nprint('hello from app')\n"
    assert leftovers(krat) == []


def test_cache_hits_and_precise_invalidation(krat, busybox_image, ctx) -> None:
    first = krat.ok("build", "-q", "-t", "seed:1", str(ctx)).stdout.strip()
    again = krat.ok("build", "--progress", "plain", str(ctx))
    assert again.stdout.strip() == first                   # fully cached: the very same image
    assert "installing flask" not in again.stderr and again.stderr.count("CACHED") == 7
    os.utime(ctx / "requirements.txt", (1, 1))             # mtime only: still a hit
    (ctx / "app.py").write_text("print('changed')\n")
    third = krat.ok("build", "--explain", "--progress", "plain", str(ctx))
    assert "installing flask" not in third.stderr          # the RUN before the touched COPY is cached
    lines = third.stderr.splitlines()
    assert "#5 MISS: file app.py changed" in lines
    assert "#4 CACHED" in lines and "#5 CACHED" not in lines
    assert third.stdout.strip() != first
    assert leftovers(krat) == []


def test_no_cache_reruns(krat, busybox_image, ctx) -> None:
    krat.ok("build", str(ctx))
    proc = krat.ok("build", "--no-cache", "--progress", "plain", str(ctx))
    assert "installing flask" in proc.stderr and "CACHED" not in proc.stderr.replace("#1 CACHED", "")


def test_builder_prune_empties_the_cache(krat, busybox_image, ctx) -> None:
    krat.ok("build", str(ctx))
    out = krat.ok("builder", "prune", "-f").stdout
    assert "Deleted build cache objects: 6" in out
    proc = krat.ok("build", "--progress", "plain", str(ctx))
    assert "installing flask" in proc.stderr


def test_multistage_from_stage_and_image_with_target(krat, busybox_image, tmp_path) -> None:
    ctx = tmp_path / "ms"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("""FROM busybox AS build
RUN mkdir -p /out && echo built > /out/artifact
FROM busybox AS unused
RUN echo UNUSED-STAGE-RAN
FROM scratch
COPY --from=build /out/artifact /artifact
COPY --from=busybox /bin/busybox /bin/busybox
COPY --from=build /etc/passwd /etc/passwd
CMD ["/bin/busybox", "cat", "/artifact"]
""")
    proc = krat.ok("build", "-t", "ms:1", "--progress", "plain", str(ctx))
    assert "UNUSED-STAGE-RAN" not in proc.stderr
    assert run_image(krat, "ms:1") == "built\n"
    target = krat.ok("build", "--target", "unused", "--progress", "plain", "-t", "ms:unused", str(ctx))
    assert "UNUSED-STAGE-RAN" in target.stderr


def test_heredocs_escape_and_dockerignore(krat, busybox_image, tmp_path) -> None:
    ctx = tmp_path / "hd"
    ctx.mkdir()
    (ctx / "keep.txt").write_text("kept\n")
    (ctx / "secret.env").write_text("TOKEN=1\n")
    (ctx / ".dockerignore").write_text("*.env\n")
    (ctx / "Dockerfile").write_text("""# escape=`
FROM busybox
ENV WHO=world
COPY <<EOF /greeting
hello ${WHO}
EOF
RUN <<EOF
echo from-heredoc > /ran
EOF
RUN cat <<'A' > /literal && echo `
    continued >> /literal
$WHO stays literal
A
COPY . /ctx/
CMD ["sh", "-c", "cat /greeting /ran /literal; ls /ctx"]
""")
    krat.ok("build", "-t", "hd:1", str(ctx))
    out = run_image(krat, "hd:1")
    assert out.splitlines() == ["hello world", "from-heredoc", "$WHO stays literal", "continued",
                                "Dockerfile", "keep.txt"]


def test_context_from_stdin_tar_and_dockerfile_from_stdin(krat, busybox_image, ctx) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(ctx, arcname=".")
    image = krat.ok("build", "-q", "-t", "fromtar:1", "-", input=buf.getvalue()).stdout.strip()
    assert image.startswith(b"sha256:")
    assert run_image(krat, "fromtar:1") == "flask==3.1.3\nprint('hello from app')\n"
    krat.ok("build", "-q", "-t", "stdin-df:1", "-", input=b"FROM busybox\nLABEL from=stdin\n")
    assert image_config(krat, "stdin-df:1")["Config"]["Labels"] == {"from": "stdin"}


def test_flags_iidfile_label_build_arg_file(krat, busybox_image, tmp_path) -> None:
    ctx = tmp_path / "fl"
    ctx.mkdir()
    (ctx / "build.Dockerfile").write_text("FROM busybox\nARG V=default\nRUN echo value=$V > /v\nCMD cat /v\n")
    iid = tmp_path / "iid"
    krat.ok("build", "-f", str(ctx / "build.Dockerfile"), "--build-arg", "V=given", "--label", "a=b",
            "--iidfile", str(iid), "-t", "fl:1", str(ctx))
    config = image_config(krat, "fl:1")
    assert config["Id"] == iid.read_text()
    assert config["Config"]["Labels"] == {"a": "b"}
    assert run_image(krat, "fl:1") == "value=given\n"


@pytest.mark.parametrize("dockerfile, message", [
    ("RUN true\n", "Dockerfile:1: RUN before the first FROM"),
    ("FROM busybox\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"),
    ("FROM busybox\nCMD [\"sleep\", 1]\n", "Dockerfile:2: when using JSON array syntax"),
    ("FROM busybox\nCOPY ../outside /x\n", "Dockerfile:2: forbidden path outside the build context"),
    ("FROM busybox AS a\nFROM busybox\nCOPY --from=nostage /a /b\n", "Dockerfile:3: COPY --from=nostage"),
    ("FROM nosuchbase:1\n", "Dockerfile:1: No such image: nosuchbase:1"),
    ("FROM busybox\nRUN echo one && echo last-words && exit 3\n",
     "Dockerfile:2: RUN echo one && echo last-words && exit 3 failed with exit code 3: last-words"),
])
def test_bad_dockerfiles_fail_cleanly(krat, busybox_image, tmp_path, dockerfile: str, message: str) -> None:
    ctx = tmp_path / "bad"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    err = krat.fails("build", "-t", "bad:1", "--progress", "plain", str(ctx), code=1)
    assert err.splitlines()[-1].startswith(f"Error: {message}"), err
    assert "bad" not in krat.ok("images").stdout
    assert leftovers(krat) == []


def test_unknown_target_fails(krat, busybox_image, ctx) -> None:
    err = krat.fails("build", "--target", "nope", str(ctx), code=1)
    assert err == "Error: target stage 'nope' could not be found in Dockerfile"


def test_pull_asks_the_registry_and_fails_cleanly_when_it_cannot(krat, busybox_image, ctx) -> None:
    err = krat.fails("build", "--pull", "-t", "pulled:1", str(ctx), code=1)
    assert err.splitlines()[-1].startswith("Error: Dockerfile:1: ")
    assert "docker.io is blocked" in err
    assert "pulled" not in krat.ok("images").stdout


def test_builder_prune_filter_keeps_recent_entries(krat, busybox_image, ctx) -> None:
    krat.ok("build", str(ctx))
    assert "Deleted build cache objects: 0" in krat.ok("builder", "prune", "-f", "--filter", "until=1h").stdout
    proc = krat.ok("build", "--progress", "plain", str(ctx))
    assert "installing flask" not in proc.stderr


def test_a_killed_build_is_cleaned_up_by_the_next_one(krat, busybox_image, tmp_path) -> None:
    import signal
    import time

    ctx = tmp_path / "killed"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo started-sleeping && sleep 60\n")
    proc = subprocess.Popen(krat.argv("build", "--progress", "plain", str(ctx)), env=krat.env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        seen = b""
        while b"started-sleeping\n" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.read1(4096) or b""
        assert b"started-sleeping" in seen
        assert leftovers(krat) != []           # a mount, a work dir, a container: all in use
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (ctx / "Dockerfile").write_text("FROM busybox\nLABEL next=1\n")
    krat.ok("build", str(ctx))
    assert leftovers(krat) == []
