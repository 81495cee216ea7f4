"""The low-level runtime: an OCI bundle in, a contained process out.

Namespaces, mounts, pivot_root, cgroups (v1 and v2), capabilities, seccomp. Knows
nothing of images, names or networks by name. Imports only krat.oci and krat.errors.

In-process API (what the engine's monitor calls, so no second interpreter starts):

    pid = create(container_id, bundle, state_root, stdio=(0, 1, 2), console_socket=None, pid_file=None,
                 preserve_fds=0)
        Sets the container up from bundle/config.json and leaves its process waiting
        (exec.fifo) until start(). The caller becomes a child subreaper, so `pid` is
        re-parented to it and wait(pid) gives the exit status. stdio: the caller's fds that
        become the container's 0, 1, 2 (ignored with process.terminal: then the pty master
        is sent over the unix socket `console_socket` with SCM_RIGHTS, as runc does).
        Raises InvalidArgument (bad config.json, one line naming the field), AlreadyExists,
        CommandNotFound (exit 127) / CommandCannotRun (exit 126) when process.args[0]
        cannot be executed (missing, not executable, bad #! interpreter or CRLF, other
        architecture). Nothing is left behind on failure.
    start(container_id, state_root)              created -> running (execs process.args)
    state(container_id, state_root) -> State     krat.oci.runtime.State; .to_json() is the OCI doc
    kill(container_id, sig="SIGTERM", all_processes=False, state_root)   names or numbers
    delete(container_id, force=False, state_root)   removes cgroup and state (force kills first)
    pause / resume(container_id, state_root)     cgroup freezer
    processes(container_id, state_root) -> [pid]  host pids in the container's cgroup
    oom_killed(container_id, state_root) -> bool  OOM kill events of its memory cgroup (before delete)
    list_states(state_root) -> [State]
    pid = exec_process(container_id, process, state_root, stdio=(0, 1, 2), console_socket=None, pid_file=None)
        process: krat.oci.runtime.Process; joins the container's namespaces and cgroup, with
        the container's seccomp profile and the process's own user/caps/env/cwd.
    wait(pid) -> int                             exit code, or 128+N when killed by signal N

Notes for callers: the cgroup is linux.cgroupsPath below every hierarchy root (default
/krat/<id>; $KRAT_CGROUP2_ROOT at create picks a cgroup2 root, see cgroups.py); linux.seccomp is compiled once per distinct profile and cached under
/run/krat-runtime-cache (KRAT_RUNTIME_CACHE_DIR overrides); errors are krat.errors classes
with one-line messages naming the config field. Statuses come from the kernel (live pid,
exec.fifo, freezer), so a caller killed halfway never leaves a wrong one.

The OCI command line on top is `krat-runtime` (krat.runtime.cli), with runc's verbs and flags.
"""

DEFAULT_ROOT = "/run/krat-runtime"

__all__ = ["DEFAULT_ROOT", "create", "delete", "exec_process", "kill", "list_states", "oom_killed", "pause",
           "processes", "resume", "start", "state", "wait"]


def __getattr__(name: str) -> object:
    """The operations load on first use: `import krat.runtime` itself costs nothing."""
    if name in __all__:
        if name == "exec_process":
            from krat.runtime import tenant as module
        elif name == "create":
            from krat.runtime import creation as module
        else:
            from krat.runtime import container as module
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'krat.runtime' has no attribute {name!r}")
