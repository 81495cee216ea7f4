"""The low-level runtime: an OCI bundle in, a contained process out.

Namespaces, mounts, pivot_root, cgroups, capabilities, seccomp. Knows nothing of
images, names or networks by name. Imports only oci and errors.
"""
