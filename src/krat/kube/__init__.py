"""Kubernetes manifests to engine specs (kube play) and back (generate kube)."""
