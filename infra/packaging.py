"""Lambda and AgentCore Runtime code packages, built without Docker.

A package is the project's own Python packages (copied into a staging directory, tests and
scenarios left out) plus its third-party dependencies, installed at synth time by ``pip`` for
the target platform (``manylinux2014_aarch64``, the function's CPython version, wheels only:
Lambda on Graviton and AgentCore Runtime both run arm64 Linux). The install is CDK *local bundling*
(:class:`PipBundling`), so ``cdk synth`` needs pip and network access to PyPI, never Docker.
Tests and CI synthesize with the context ``aws:cdk:bundling-stacks=[]``, which makes CDK skip
bundling (the staged source is still hashed and checked).

Dependency sets are the slimmest that import the handler modules (checked by
``tests/infra/test_packaging.py``): no pandas (only ``scenarios/`` and capture use it) except in
the ``traces`` tool's package, whose span detectors (:mod:`tools.trace_analysis`) need pandas and
scipy now that it reads spans from X-Ray or Transaction Search; no typer/rich (CLI only), no
pdfplumber outside the review tasks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling

REPO = Path(__file__).resolve().parent.parent
STAGING = REPO / "infra" / "cdk.out" / ".staging-src"
# Lambda's python3.13/3.14 and AgentCore Runtime run Amazon Linux 2023 (glibc 2.34) on arm64:
# manylinux_2_28 wheels run there, and newer releases (numpy for CPython 3.14) ship only those.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# Pure-Python packages published only as source distributions: built once into a local
# wheelhouse (a py3-none-any wheel), since a cross-platform install accepts wheels only.
PURE_SDISTS = ("drain3",)

# Third-party requirements per package kind (versions as pyproject.toml).
BASE = [
    "pydantic>=2.7,<3",
    "buildzr>=0.0.17",
    "networkx>=3.2",
    "numpy>=1.26",
    "bm25s>=0.2",
    "pyyaml>=6",
    "aws-lambda-powertools[tracer]>=3.0",
]
REQUIREMENTS: dict[str, list[str]] = {
    "tools": BASE,
    # the traces tool's Lambda: the span detectors are vectorised with pandas and scipy
    "traces": [*BASE, "pandas>=2.1", "scipy>=1.11"],
    # rich: tools.markup's terminal escaping is imported by the agent and review modules
    "agent": [
        *BASE,
        "drain3>=0.9.11",
        "jinja2>=3.1",
        "rich>=13",
        "boto3>=1.40",
        "bedrock-agentcore>=1.0",
    ],
    "reviews": [
        *BASE,
        "slack-sdk>=3.47",
        "drain3>=0.9.11",
        "jinja2>=3.1",
        "rich>=13",
        "pdfplumber>=0.11",
        "boto3>=1.40",
        # the assess task: the lexical matcher (both assessors, the plan's sentences) stems
        "snowballstemmer>=2.2",
    ],
    "slack": [
        *BASE,
        "drain3>=0.9.11",
        "jinja2>=3.1",
        "rich>=13",
        "boto3>=1.40",
        "slack-bolt>=1.30",
        "slack-sdk>=3.47",
    ],
}
# The project's own packages each kind needs.
PACKAGES: dict[str, list[str]] = {
    "tools": ["tools", "agent", "lenses"],
    "traces": ["tools", "agent", "lenses"],
    "agent": ["agent", "tools", "lenses", "reviews"],
    "reviews": ["reviews", "lenses", "tools", "agent", "slackbot"],
    "slack": ["slackbot", "agent", "tools", "lenses", "reviews"],
}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


def stage(kind: str, extra: dict[str, Path] | None = None) -> Path:
    """Copy the project packages of ``kind`` into ``STAGING/<kind>`` (replaced each time) and
    return the directory; ``extra`` maps file names in the package root to files to copy."""
    out = STAGING / kind
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in PACKAGES[kind]:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, out / name, ignore=_IGNORE)
    for name, file in (extra or {}).items():
        shutil.copyfile(file, out / name)
    (out / "requirements.txt").write_text("\n".join(REQUIREMENTS[kind]) + "\n")
    return out


def wheel_command(requirements: Path, wheelhouse: str) -> list[str] | None:
    """``pip wheel`` of the pure-Python sdists the requirements name (None when there are none)."""
    wanted = [
        r for r in requirements.read_text().split() if r.split(">")[0].split("=")[0] in PURE_SDISTS
    ]
    if not wanted:
        return None
    return [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheelhouse,
            *wanted]  # fmt: skip


def pip_command(
    requirements: Path, target: str, python: str, wheelhouse: str | None = None
) -> list[str]:
    """The pip install that fetches arm64 Linux CPython ``python`` (``3.14``) wheels into
    ``target`` (``wheelhouse``: extra local wheels, see :func:`wheel_command`)."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    links = ["--find-links", wheelhouse] if wheelhouse else []
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", *platforms,
        "--implementation", "cp", "--python-version", python, "--only-binary=:all:",
        *links, "--target", target, "-r", str(requirements),
    ]  # fmt: skip


@jsii.implements(ILocalBundling)
class PipBundling:
    """CDK local bundling: pip-install the requirements, then copy the staged source."""

    def __init__(self, source: Path, python: str) -> None:
        self.source = source
        self.python = python

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        requirements = self.source / "requirements.txt"
        wheelhouse = str(self.source.parent / ".wheelhouse")
        build = wheel_command(requirements, wheelhouse)
        if build:
            subprocess.run(build, check=True)
        subprocess.run(
            pip_command(requirements, output_dir, self.python, wheelhouse if build else None),
            check=True,
        )
        shutil.copytree(self.source, output_dir, dirs_exist_ok=True, ignore=_IGNORE)
        return True


def bundling(source: Path, python: str) -> BundlingOptions:
    """Bundling options that always run locally (the image is never pulled)."""
    return BundlingOptions(
        image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{python}"),
        local=PipBundling(source, python),
        command=["echo", "local bundling only"],
    )
