#!/usr/bin/env python3
"""Write a root filesystem tarball made from Debian's static busybox to stdout or a file.

    scripts/busybox-rootfs.py > busybox.tar
    scripts/busybox-rootfs.py | krat import --change 'CMD ["sh"]' - busybox:latest

Deterministic (fixed mtimes, sorted entries), so the same busybox gives the same digest.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

BUSYBOX = "/bin/busybox"
MTIME = 946684800  # 2000-01-01, fixed so the layer digest is reproducible
DIRS = ["bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "usr/bin", "usr/sbin",
        "sbin", "var", "var/log", "var/tmp", "var/www"]
FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                  "www-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwww-data:x:33:\nnogroup:x:65534:\n",
    "etc/shadow": "root:*:19000:0:99999:7:::\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}


def applets(busybox: str) -> list[str]:
    out = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout
    return sorted(line for line in out.split() if line and line != "bin/busybox")


def info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = kind, mode, MTIME, 0, 0
    return ti


def write(out: io.BufferedWriter, busybox: str = BUSYBOX) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for d in DIRS:
            tar.addfile(info(d, tarfile.DIRTYPE, 0o1777 if d.endswith("tmp") else 0o755))
        with open(busybox, "rb") as f:
            data = f.read()
        ti = info("bin/busybox", tarfile.REGTYPE, 0o755)
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
        for path in applets(busybox):
            link = info(path, tarfile.SYMTYPE, 0o777)
            link.linkname = "/bin/busybox"
            tar.addfile(link)
        for name, text in sorted(FILES.items()):
            raw = text.encode()
            ti = info(name, tarfile.REGTYPE, 0o640 if name.endswith("shadow") else 0o644)
            ti.size = len(raw)
            tar.addfile(ti, io.BytesIO(raw))


def main() -> int:
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 0
    if len(sys.argv) == 2:
        with open(sys.argv[1], "wb") as f:
            write(f)
    else:
        write(sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
