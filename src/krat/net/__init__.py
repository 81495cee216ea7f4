"""Networking: IPAM (pure), bridges, veths, namespaces, NAT and published ports, DNS.

Imports only oci and errors.
"""
