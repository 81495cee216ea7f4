"""Real containers from OCI bundles run by runc, for testing the network and volume
services before and independently of `krat run`: the bundle contract (config.json with a
network namespace path and mounts) is exactly what the engine hands its runtime."""

from __future__ import annotations

import json
import os
import sys
import secrets
import subprocess
from pathlib import Path


def runtime_argv() -> list[str]:
    """runc by default; KRAT_TEST_OCI_RUNTIME=krat runs the same bundles with krat's runtime."""
    if os.environ.get("KRAT_TEST_OCI_RUNTIME") == "krat":
        return [sys.executable, "-c", "import sys; from krat.runtime.cli import main; sys.exit(main())"]
    return ["runc"]


class Bundles:
    def __init__(self, tmp: Path, rootfs_tar: Path) -> None:
        self.runtime = runtime_argv()
        self.tmp = tmp
        self.tar = rootfs_tar
        self.state = tmp / "runc-state"
        self.ids: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def _bundle(self, args: list[str], netns: str | None, mounts: list[dict], host_net: bool) -> tuple[str, Path]:
        cid = f"kt-{secrets.token_hex(6)}"
        bundle = self.tmp / cid
        (bundle / "rootfs").mkdir(parents=True)
        subprocess.run(["tar", "-xf", str(self.tar), "-C", str(bundle / "rootfs")], check=True)
        subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
        config = json.loads((bundle / "config.json").read_text())
        config["process"].update(terminal=False, args=args)
        config["root"]["readonly"] = False
        namespaces = [ns for ns in config["linux"]["namespaces"] if ns["type"] != "network"]
        if not host_net:
            namespaces.append({"type": "network", "path": netns} if netns else {"type": "network"})
        config["linux"]["namespaces"] = namespaces
        config["mounts"] += mounts
        (bundle / "config.json").write_text(json.dumps(config))
        self.ids.append(cid)
        return cid, bundle

    def run(self, args: list[str], netns: str | None = None, mounts: list[dict] = (),
            host_net: bool = False) -> subprocess.CompletedProcess:
        cid, bundle = self._bundle(args, netns, list(mounts), host_net)
        return subprocess.run([*self.runtime, "--root", str(self.state), "run", "--bundle", str(bundle), cid],
                              capture_output=True, text=True, timeout=60)

    def start(self, args: list[str], netns: str | None = None, mounts: list[dict] = ()) -> str:
        cid, bundle = self._bundle(args, netns, list(mounts), False)
        self.procs.append(subprocess.Popen([*self.runtime, "--root", str(self.state), "run", "--bundle", str(bundle), cid],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return cid

    def close(self) -> None:
        for cid in self.ids:
            subprocess.run([*self.runtime, "--root", str(self.state), "delete", "-f", cid], capture_output=True)
        for proc in self.procs:
            proc.wait(timeout=30)
