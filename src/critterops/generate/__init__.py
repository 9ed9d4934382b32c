"""The deployment kit: Kubernetes, GitHub Actions, observability, runbooks and Dockerfiles.

Every generator is a pure function from a :class:`~critterops.generate.context.KitContext` to a
``{relative path: text}`` mapping; :mod:`critterops.generate.kit` merges them, checks that nothing
escapes the output folder, and writes (or diffs, with ``--check``) byte-identical files.
"""
