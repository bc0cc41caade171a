"""bluegreen apply / revert: a whole migration, run phase by phase, recorded, resumable and
revertible.

- ``revisions``: the input (SQL files, Alembic revisions) as an ordered list of revisions.
- ``build``: a revision's planned changes as expand and contract steps (pure).
- ``inverse``: the SQL that undoes an expand step (pure).
- ``runner``: runs the steps of a phase, or reverts expand, through an engine.
"""
