"""Log-template mining: a small deterministic wrapper around Drain3, and grouping accuracy.

Algorithm: Drain (He, Zhu, Zheng, Lyu: "Drain: An Online Log Parsing Approach with Fixed Depth
Tree", ICWS 2017) as implemented by IBM's Drain3 (https://github.com/logpai/Drain3, MIT license).
Each message is masked, split on whitespace and routed through a fixed-depth prefix tree (first by
token count, then by its first ``depth - 3`` tokens). Among the clusters in that leaf it joins the
most similar one when the share of positions holding the same token is at least ``sim_th``; the
positions that differ become ``<*>`` in the cluster's template. Otherwise it starts a new cluster.

Input is the message text of one log line per call: the free-text part, without timestamp, level or
JSON envelope (removing those is the caller's job). Output is an integer cluster id per message and
one template per cluster, a string in which each variable part is ``<*>`` (LogHub's notation).
Cluster ids are stable for the miner's lifetime; a cluster's template may still generalise (gain
``<*>``) as later messages join it.

Masking happens before Drain sees a message: the regexes of :data:`MASKING_PATTERNS` run in order
as Drain3 ``MaskingInstruction``s and each match becomes one placeholder. Masked are URLs, AWS ARNs,
e-mail addresses, ISO 8601 dates and times, syslog / ``ctime`` style date-times (``Sun Jul 24
02:38:22 2005``), clock times, host names with a common top-level domain, absolute file or URL paths
containing a digit, UUIDs, IPv6 and IPv4 addresses (optional ``/prefix`` and ``:port``), AWS
resource ids (``i-``, ``sg-``, ``vpc-``, ``subnet-``, ... followed by hex) and access key ids,
``0x`` hex, hex strings of eight or more characters with both a digit and a letter, ids of five
or more letters and digits with at least two digits (``abc123``, ``7d9f8b6c5``), and numbers
(signed, decimal, grouped, with an optional short unit such as ``123ms``, ``4.5GB``, ``50%``).
A value must stand apart from letters and digits, so ``blk_-42`` becomes ``blk_<*>`` while
``ext3``, ``ssh2`` or ``IPv4`` stay as they are. The rules are general: none names a particular
system or product. Quoted strings and free-text words are not masked (Drain generalises them
when they vary).

Two details differ from Drain3's defaults, both deliberate:

- A masked value counts as a matching token when comparing a message with a template (Drain3's
  named masks such as ``<NUM>`` behave the same way); otherwise a heavily masked message is never
  similar enough to anything. Templates render every placeholder as ``<*>``.
- A token containing a masked value (``core.<*>``, ``<*>,<*>``) is routed through the wildcard
  node of the prefix tree, as Drain already does for tokens containing a digit.

The miner is pure Drain3 in memory (no configuration file, no persistence): the same messages in
the same order always give the same clusters.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence

from drain3 import TemplateMiner
from drain3.drain import Drain
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import ConfigDict, Field

from tools.models import Model

__all__ = [
    "MASKING_PATTERNS",
    "PARAM",
    "LogTemplateMiner",
    "MinerSettings",
    "grouping_accuracy",
]

PARAM = "<*>"
"""The placeholder for a variable part in masked messages and in templates."""

_MASK_NAME = ":var:"
_MASK = f"<{_MASK_NAME}>"  # what a masked value looks like inside Drain (rendered as PARAM)

# A value starts and ends where there is no letter or digit next to it (``_``, ``/``, ``=``, ``:``,
# ``-``, brackets, quotes, spaces and the ends of the message all count as boundaries).
_L = r"(?<![A-Za-z0-9])"
_R = r"(?![A-Za-z0-9])"
_HEX = "[0-9A-Fa-f]"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_TLD = (
    r"(?:com|net|org|edu|gov|mil|int|info|biz|io|cloud|internal|local|localdomain|lan|corp|home"
    r"|arpa|eu|us|uk|de|fr|nl|jp|cn|ru|br|au|ca|ch|se|it|es|kr|tw|sg|hk)"
)

MASKING_PATTERNS: tuple[tuple[str, str], ...] = (
    ("url", r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>()\[\]{},;]+"),
    ("arn", r"\barn:aws[A-Za-z0-9-]*:[A-Za-z0-9-]*:[A-Za-z0-9-]*:\d*:[^\s\"'<>()\[\]{},;]+"),
    ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    (
        "iso_datetime",
        _L + r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?" + _R,
    ),
    (
        "text_datetime",
        _L + rf"(?:{_DAY},? +)?(?:{_MONTH} +\d{{1,2}}|\d{{1,2}} +{_MONTH}),?(?: +\d{{4}})?"
        r" +\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?: +\d{4})?"
        r"(?: +(?:UTC|GMT|CET|[A-Z]{2,3}[SD]T))?" + _R,
    ),
    ("clock", _L + r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?" + _R),
    (
        "hostname",
        _L + rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+{_TLD}"
        r"(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
    ),
    (
        "path",
        r"(?<![A-Za-z0-9_./:~-])(?=/[A-Za-z0-9_.%+~@=/-]*\d)(?:/[A-Za-z0-9_.%+~@=-]+)+/?",
    ),
    ("uuid", _L + rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}" + _R),
    (
        "ipv6",
        r"(?<![A-Za-z0-9:.])(?:"
        rf"(?:{_HEX}{{1,4}}:){{7}}{_HEX}{{1,4}}"
        rf"|(?=[0-9A-Fa-f:]*\d)(?:{_HEX}{{1,4}}:){{1,6}}(?::{_HEX}{{1,4}}){{1,6}}"
        rf"|(?=[0-9A-Fa-f:]*\d)(?:{_HEX}{{1,4}}:){{1,7}}:"
        rf"|::(?:{_HEX}{{1,4}}:){{0,5}}{_HEX}{{1,4}}"
        r")(?:/\d{1,3})?(?![A-Za-z0-9:])",
    ),
    ("ipv4", _L + r"(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?::\d{1,5})?(?![A-Za-z0-9]|\.\d)"),
    (
        "aws_id",
        _L + r"(?:i|r|sg|subnet|vpc|vol|ami|snap|eni|igw|nat|rtb|acl|eipalloc|lt|tgw|vpce|pcx"
        r"|fs)-[0-9a-f]{8,17}" + _R,
    ),
    ("aws_key", _L + r"(?:AKIA|ASIA)[0-9A-Z]{16}" + _R),
    ("hex0x", _L + rf"0[xX]{_HEX}+" + _R),
    ("hex", _L + rf"(?=[0-9A-Fa-f]*\d)(?=[0-9]*[A-Fa-f]){_HEX}{{8,}}" + _R),
    (
        "alnum_id",
        _L + r"(?=[A-Za-z0-9]{5})(?=[A-Za-z]*\d[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]+" + _R,
    ),
    (
        "number",
        _L + r"[-+]?\d+(?:\.\d+[eE][-+]?\d+|(?:[.,]\d+)*)(?:%|[A-Za-z]{1,2}(?:/s)?)?" + _R,
    ),
)
"""``(name, regex)`` of every masking rule, in the order they run; each match becomes ``<*>``."""


class MinerSettings(Model):
    """Drain parameters. The defaults are the one general configuration measured in
    ``benchmarks/loghub_grouping.py`` (no per-system tuning).

    Attributes:
        depth: prefix-tree depth, at least 3: root, token count, then ``depth - 3`` leading tokens
            route a message to its candidate clusters.
        sim_th: similarity threshold in ``[0, 1]``: the share of a template's positions a message
            must repeat (a masked value repeats a masked value) to join that cluster.
        max_children: most children of an inner tree node; further tokens share its ``<*>`` child.
        max_clusters: keep at most this many clusters, dropping the least recently used; ``None``
            for no limit. With a limit, the template of a dropped cluster id is gone.
        extra_delimiters: strings that separate tokens in addition to whitespace.
        parametrize_numeric_tokens: route tokens that contain a digit (or a masked value) through
            the wildcard node of the tree.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    depth: int = Field(default=5, ge=3)
    sim_th: float = Field(default=0.8, ge=0.0, le=1.0)
    max_children: int = Field(default=100, ge=2)
    max_clusters: int | None = Field(default=None, ge=1)
    extra_delimiters: tuple[str, ...] = ()
    parametrize_numeric_tokens: bool = True


class _MaskAwareDrain(Drain):
    """Drain3's Drain, except that tokens holding a masked value count as "numeric" for routing."""

    @staticmethod
    def has_numbers(s: str) -> bool:
        return _MASK in s or any(char.isdigit() for char in s)


def _drain_config(settings: MinerSettings) -> TemplateMinerConfig:
    config = TemplateMinerConfig()
    config.drain_depth = settings.depth
    config.drain_sim_th = settings.sim_th
    config.drain_max_children = settings.max_children
    config.drain_max_clusters = settings.max_clusters
    config.drain_extra_delimiters = list(settings.extra_delimiters)
    config.parametrize_numeric_tokens = settings.parametrize_numeric_tokens
    config.mask_prefix = "<"
    config.mask_suffix = ">"
    config.masking_instructions = [MaskingInstruction(rx, _MASK_NAME) for _, rx in MASKING_PATTERNS]
    config.profiling_enabled = False
    return config


def _render(text: str) -> str:
    return text.replace(_MASK, PARAM)


class LogTemplateMiner:
    """Online template miner: add messages one by one, read cluster ids and templates.

    Deterministic, in memory, not thread-safe (use one miner per stream or guard it with a lock).

    Example:
        >>> miner = LogTemplateMiner()
        >>> a = miner.add("Connection from 10.0.0.1 closed after 35ms")
        >>> b = miner.add("Connection from 10.0.0.7 closed after 120ms")
        >>> a == b, miner.template(a)
        (True, 'Connection from <*> closed after <*>')
    """

    def __init__(self, config: MinerSettings | None = None) -> None:
        self.settings = config if config is not None else MinerSettings()
        self._miner = TemplateMiner(persistence_handler=None, config=_drain_config(self.settings))
        base = self._miner.drain
        self._drain = _MaskAwareDrain(
            depth=base.log_cluster_depth,
            sim_th=base.sim_th,
            max_children=base.max_children,
            max_clusters=base.max_clusters,
            extra_delimiters=base.extra_delimiters,
            param_str=base.param_str,
            parametrize_numeric_tokens=base.parametrize_numeric_tokens,
        )
        self._miner.drain = self._drain
        self._masked: dict[str, str] = {}  # message -> masked text (lines repeat)

    def _mask(self, message: str) -> str:
        masked = self._masked.get(message)
        if masked is None:
            masked = self._miner.masker.mask(message)
            self._masked[message] = masked
        return masked

    def mask(self, message: str) -> str:
        """``message`` with every value matched by :data:`MASKING_PATTERNS` replaced by ``<*>``."""
        return _render(self._mask(message))

    def add(self, message: str) -> int:
        """Learn from ``message``; the id of the cluster it joined or started.

        What Drain3's ``TemplateMiner.add_log_message`` does without persistence, with each
        distinct message masked once per miner (the masking regexes are most of the cost)."""
        cluster, _change = self._drain.add_log_message(self._mask(message))
        return int(cluster.cluster_id)

    def add_all(self, messages: Iterable[str]) -> list[int]:
        """:meth:`add` each message in order; the cluster id of each."""
        return [self.add(message) for message in messages]

    def template(self, cluster_id: int) -> str:
        """The current template of a cluster, ``<*>`` for each variable part.

        Raises:
            KeyError: unknown id, or one dropped because of ``max_clusters``.
        """
        cluster = self._drain.id_to_cluster.get(cluster_id)
        if cluster is None:
            raise KeyError(f"no log cluster {cluster_id}")
        return _render(cluster.get_template())

    def match(self, message: str) -> int | None:
        """Id of a known cluster whose template fits ``message`` exactly, without learning.

        Every template token must equal the message's token at that position, except ``<*>``,
        which fits anything. The tree is searched first, then every cluster with the same token
        count, so any message that :meth:`add` has seen matches some cluster afterwards (not
        necessarily the one it was added to: several templates may fit). ``None`` when none fits.
        """
        cluster = self._miner.match(message, full_search_strategy="fallback")
        return None if cluster is None else int(cluster.cluster_id)

    def clusters(self) -> dict[int, str]:
        """``{cluster_id: template}`` of every live cluster, by id."""
        return {
            int(c.cluster_id): _render(c.get_template())
            for c in sorted(self._drain.clusters, key=lambda c: c.cluster_id)
        }

    def sizes(self) -> dict[int, int]:
        """``{cluster_id: number of messages added to it}`` of every live cluster, by id."""
        return {
            int(c.cluster_id): int(c.size)
            for c in sorted(self._drain.clusters, key=lambda c: c.cluster_id)
        }

    def __len__(self) -> int:
        """Number of live clusters."""
        return len(self._drain.id_to_cluster)


def grouping_accuracy(truth: Sequence[str], predicted: Sequence[Hashable]) -> float:
    """Grouping accuracy (GA) of a log parser, as defined by the LogPAI benchmark.

    Zhu et al., "Tools and Benchmarks for Automated Log Parsing" (ICSE-SEIP 2019);
    ``evaluator.get_accuracy`` in logpai/logparser. Line ``i`` is correctly parsed when the set of
    lines in its predicted cluster is exactly the set of lines of its true event. GA is the share
    of correctly parsed lines, in ``[0, 1]``. A cluster that merges two events, or an event split
    over two clusters, makes every line of them wrong.

    Args:
        truth: the true event of each line (e.g. LogHub's ``EventId``).
        predicted: the cluster of each line, any hashable labels; equal labels form one cluster
            (so give unparsed lines distinct labels, not a shared ``None``).

    Raises:
        ValueError: the two sequences differ in length, or are empty.
    """
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predicted labels")
    if len(truth) == 0:
        raise ValueError("grouping accuracy of no lines is undefined")
    event_sizes = Counter(truth)
    cluster_events: dict[Hashable, list[str]] = defaultdict(list)
    for event, cluster in zip(truth, predicted, strict=True):
        cluster_events[cluster].append(event)
    correct = 0
    for events in cluster_events.values():
        first = events[0]
        if len(events) == event_sizes[first] and all(event == first for event in events):
            correct += len(events)
    return correct / len(truth)
