"""Flash-sale drills: the production setup under load and faults, checked order by order at the
platforms (``python -m drills``; docs/operations.md, "Drills").

Each drill is a module ``drills/r<N>_<name>.py`` with ``NAME`` (``"R1"``), a one-line ``TITLE``
and ``run(size) -> Result``; the runner (``drills.__main__``) finds them by their file names.
"""
