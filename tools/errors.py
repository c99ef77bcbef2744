"""Errors raised by the RCA tools and telemetry backends.

Each error message says what failed, why, and what to try; the CLI prints it as one line.
"""

from __future__ import annotations


class RcaError(Exception):
    """Base class of every error the product reports to a user."""


class BundleError(RcaError):
    """An incident bundle is missing, malformed or inconsistent (message names file and field)."""


class WorkspaceError(RcaError):
    """A Structurizr workspace cannot be loaded or lacks what the investigation needs."""


class UnknownComponentError(RcaError):
    """A component name or id does not resolve to an element of the workspace."""


class EmptyWindowError(RcaError):
    """The requested time window holds no telemetry at all."""


class TelemetryError(RcaError):
    """A telemetry backend failed (throttled, timed out, access denied, ...)."""


class ModelError(RcaError):
    """A model provider failed: no credentials, no model access, throttling, context overflow."""


class ContextOverflowError(ModelError):
    """The conversation no longer fits the model's context window."""
