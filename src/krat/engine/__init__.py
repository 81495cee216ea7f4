"""Services that combine the lower layers: images, containers, volumes, networks, monitor.

May import store, db, net, registry, runtime, oci and errors; never build or a front end.
"""
