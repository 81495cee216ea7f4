"""Which manifest of an index this machine runs: Go's GOOS/GOARCH names, as registries use.

Pure functions; `host_platform()` reads uname once.
"""

from __future__ import annotations

import platform as _platform

from krat.errors import InvalidArgument, NotFound
from krat.registry.media import Descriptor, Platform

# uname -m -> (GOARCH, variant)
_MACHINES = {
    "x86_64": ("amd64", None), "amd64": ("amd64", None), "i386": ("386", None), "i686": ("386", None),
    "aarch64": ("arm64", "v8"), "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"), "ppc64le": ("ppc64le", None), "s390x": ("s390x", None),
    "riscv64": ("riscv64", None), "mips64": ("mips64", None),
}
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}
# The variant an index entry without one is taken to mean (containerd's normalisation).
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


def host_platform() -> Platform:
    arch, variant = _MACHINES.get(_platform.machine(), (_platform.machine(), None))
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    """'linux/arm64', 'linux/arm/v7', 'arm64' (os defaults to linux)."""
    parts = text.strip().lower().split("/")
    if len(parts) == 1 and parts[0]:
        parts = ["linux", parts[0]]
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
    arch = _ARCH_ALIASES.get(parts[1], parts[1])
    return Platform(parts[0], arch, parts[2] if len(parts) == 3 else None)


def _variant(plat: Platform) -> str | None:
    return plat.variant or _DEFAULT_VARIANT.get(plat.architecture)


def matches(want: Platform, have: Platform | None) -> bool:
    if have is None or have.os != want.os or _ARCH_ALIASES.get(have.architecture, have.architecture) != want.architecture:
        return False
    if want.variant is None and want.architecture not in _DEFAULT_VARIANT:
        return True
    return _variant(have) == _variant(want) or (want.variant is None and have.variant is None)


def select(children: list[Descriptor], want: Platform) -> Descriptor:
    """The first manifest of an index for `want`; an exact variant beats a normalised one."""
    found = [d for d in children if matches(want, d.platform)]
    if not found and want.variant is None:
        # e.g. an arm64 host and an index that only lists arm64/v9: any variant will do.
        found = [d for d in children if d.platform and d.platform.os == want.os
                 and d.platform.architecture == want.architecture]
    if not found:
        listed = ", ".join(sorted({str(d.platform) for d in children if d.platform})) or "none"
        raise NotFound(f"no image for platform {want} in the manifest list (it has: {listed})")
    exact = [d for d in found if d.platform and d.platform.variant == want.variant]
    return (exact or found)[0]
