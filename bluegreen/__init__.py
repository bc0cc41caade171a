"""bluegreen: zero-downtime schema changes for blue/green deployments."""

__version__ = "0.1.0"
