"""Telemetry backends behind one interface (:mod:`tools.telemetry.base`): an incident bundle
(:mod:`tools.telemetry.bundle`, the embedded default) or AWS accounts
(:mod:`tools.telemetry.aws`)."""
