"""The function packages are slim: each kind's handler modules import with only its listed
requirements (plus what Lambda's Python runtime ships: boto3), and never pandas except the
traces tool's, whose span detectors need it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from infra.packaging import PACKAGES, REQUIREMENTS

ENTRY_POINTS = {
    "tools": ["tools.handlers"],
    "traces": ["tools.handlers", "tools.trace_analysis"],
    "agent": ["agent.runtime", "agent.service"],
    "reviews": ["reviews.handlers"],
    "slack": ["slackbot.lambda_handler", "slackbot.app", "slackbot.alarms"],
}
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                    "urllib3"}  # fmt: skip
# Loaded here but optional there: botocore uses certifi's CA bundle when installed (else its
# own), and a virtualenv's site hook loads setuptools' _distutils_hack.
OPTIONAL = {"certifi", "setuptools", "scipy", "charset-normalizer"}
# bm25s imports scipy (which pulls numpy.f2py's charset-normalizer) only when it is installed,
# as it is in this development environment; the Lambda packages leave it out and bm25s works
# without it.
PROBE = """
import importlib, json, sys
import importlib.metadata as md
mods = json.loads(sys.argv[1])
for m in mods:
    importlib.import_module(m)
if mods and mods[0] == "slackbot.lambda_handler":
    import slack_bolt.adapter.aws_lambda  # imported lazily by the handler
dists = md.packages_distributions()
used = sorted({d for name in list(sys.modules) for d in dists.get(name.split(".")[0], [])})
print(json.dumps({"used": used, "pandas": "pandas" in sys.modules}))
"""


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(requirements: list[str]) -> set[str]:
    """The distributions the requirements pull in (from the installed metadata)."""
    import importlib.metadata as md

    todo = [norm(re.split(r"[<>=\[]", r)[0]) for r in requirements]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r and "tracer" not in r:
                continue
            todo.append(norm(re.split(r"[ ;<>=!~\\[(]", r)[0]))
    return seen


@pytest.mark.parametrize("kind", sorted(ENTRY_POINTS))
def test_handlers_import_with_only_their_requirements_and_no_pandas(kind: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(ENTRY_POINTS[kind])],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["pandas"] is (kind == "traces")
    allowed = requirement_closure(REQUIREMENTS[kind]) | {
        norm(d) for d in RUNTIME_PROVIDED | OPTIONAL
    }
    allowed.add("aws-ops-assistant")  # the project itself (staged source)
    used = {norm(d) for d in result["used"]}
    assert used <= allowed, sorted(used - allowed)
    staged = set(PACKAGES[kind])
    own = {m.split(".")[0] for m in ENTRY_POINTS[kind]}
    assert own <= staged
