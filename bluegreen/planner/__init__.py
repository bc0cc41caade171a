"""The expand/contract planner: migrations in, a Plan out."""
