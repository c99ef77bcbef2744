"""The RCA tools (DESIGN.md "Tools") and what they read.

One tool = one function with a pydantic input model (:mod:`tools.toolbox`): ``architecture``,
``logs``, ``metrics``, ``changes``, ``traces``. They read telemetry through one backend
interface (:mod:`tools.telemetry`: an incident bundle, :mod:`tools.bundle`, or AWS through the
wrappers in :mod:`tools.aws`), resolve components through the C4 model (:mod:`tools.c4`), and
return evidence with stable ids. :mod:`tools.handlers` serves them as Lambda functions
(AgentCore Gateway targets, Bedrock Agent action groups); :mod:`tools.redact` and
:mod:`tools.markup` are the one redactor and the one escaper per output format.
"""
