"""The local rollout backend's real components: HAProxy on loopback, version processes, synthetic load.

Everything here binds to ``127.0.0.1`` only, on ports chosen free at run time, and keeps its files
(configuration, sockets, pid files, logs) in one state directory.
"""
