"""Lexical evidence for a best practice: concepts from its guidance note, matched on statements.

A best practice's **query** comes from its guidance note (:class:`lenses.catalog.GuidanceNote`):

- **concepts**: each signal (``"Route 53 health checks"``, ``"point-in-time recovery"``) as its
  content-word sequence (stemmed, stopwords dropped), plus the acronym forms the guidance notes
  define (``"Recovery Time Objective (RTO)"`` makes ``rto`` and ``recovery time objective`` the same
  concept). A multi-word concept matches when its words occur contiguously (stopwords ignored) in
  a statement (deep mode: also in any order, or split with its heading; see *context* below).
  A **single-word** concept counts only when it is specific: rare across the guidance
  notes (in at most :data:`SPECIFIC_NOTES` of them) and rare in the document (in at most
  :data:`SPECIFIC_SHARE` of its statements), so a generic word (``groups``, ``pipeline``,
  ``Lambda`` in a serverless design) never addresses a practice on its own.
- **terms**: the content words of the note's title, its "what good looks like" sentence and its
  signals, weighted by their inverse document frequency over the whole guidance corpus (a word
  every note uses, such as ``workload``, weighs nothing). A statement's **similarity** is the share
  of the query's weight it contains: lexical retrieval over sentences with the guidance as query.
- **implementations**: the note's concrete forms (:attr:`GuidanceNote.implementations`, written
  blind to the labelled documents: ``"PagerDuty escalation"``, ``"S3 Object Lock"``) matched like
  concepts (stemmed, contiguous, acronym forms; in any order or split with its heading in
  deep mode). A phrase counts only when it is specific: listed, on its own or inside a longer
  phrase or signal, by at most :data:`IMPL_NOTES` notes; in at most :data:`IMPL_SHARE` of the
  document's statements; a single word also only under the single-word rule of signals. Each
  weighs its BM25 idf over the notes that list it (:meth:`Corpus.phrase_idf`). They stay apart
  from the signals (``phrases``/``concepts`` and the ``partly`` verdict are the signals'), and
  give two features: ``impl_weight`` (the idf weight of the phrases matched anywhere, in units
  of :data:`IMPL_UNIT`, capped at :data:`IMPL_CAP`) and ``impl_similarity`` (the best
  statement's share of the idf weight of the usable phrases' words, words common in the
  document left out). A statement matched by an implementation phrase shows the practice in
  place: it ranks up to one signal higher (:data:`IMPL_RANK_WEIGHT`) and lists the phrase among
  its matched names, so it is quoted before lines that only share guidance words.

:func:`features` returns, per practice, the figures the calibrated decision
(:mod:`reviews.assessors.calibration`) reads, computed only over statements qualified as present
(:attr:`reviews.document.Statement.present`), and the ranked evidence statements. In ``deep``
mode a statement is read with its **context**, the words of its own section heading (the
innermost of its path): a concept or implementation phrase whose words are in the statement in
any order (a table row: in one of its cells, "column: value", since two cells are two facts), or
split across it and its heading, matches when the statement itself holds at least one of its
words ("Health checks probe the primary" under "Route 53 Configuration" matches "Route 53 health
check"; a heading alone never matches, and headings are never evidence nor quoted), and the
heading's words count towards similarity at half weight. (The whole path, chapter titles
included, was measured once the extractor read the heading structure and dropped:
leave-one-document-out F1 of deep mode on the IDP document 0.759 vs 0.793 with the innermost
heading alone, DR 0.740 vs 0.739. Neighbouring rows and items as context were measured and
dropped: with them the leave-one-document-out F1 of deep mode fell below quick mode's on the IDP
document, 0.753 vs 0.785, since a table's rows lend each other words; a row already carries its
table's column names.)

Context of table rows and list items, step by step: LODO strict F1 of "addressed" at the feature
level, DR / IDP, with the LODO AUC of P(addressed) in brackets (the rows below the shipped one
change the second row's rule, the shipped one the fourth's); the variants were chosen looking at
both documents. Deep mode's split, measured apart, owed most of its gain to a phrase's words in
one statement in another order (its rule never asked the statement's part to be contiguous), not
to the heading. The **lead-in** of a table or list is the sentence between its heading and its
first row or item (its caption: "Estimated monthly DR infrastructure costs (pilot light mode).",
"The following alerts ensure proactive incident detection"); in both documents every table and
list has one.

========================================  =========================  =========================
variant                                   quick DR / IDP (AUC)       deep DR / IDP (AUC)
========================================  =========================  =========================
start: split, any order: deep mode only   0.766 / 0.801 (.849/.881)  0.762 / 0.816 (.863/.901)
that rule in quick mode too               0.763 / 0.816 (.862/.899)  unchanged
... also with no heading                  0.769 / 0.813 (.862/.904)  0.763 / 0.821 (.862/.905)
... in one row cell                       0.766 / 0.806 (.859/.899)  0.769 / 0.819 (.861/.901)
... deep mode only (**shipped**)          unchanged                  0.769 / 0.819 (.861/.901)
heading supplies a word, else contiguous  0.734 / 0.794 (.865/.885)  0.747 / 0.794 (.867/.888)
any order in the statement, no split      0.751 / 0.821 (.848/.900)  0.758 / 0.821 (.850/.901)
within its length + 2 words, or split     0.757 / 0.804 (.862/.895)
... + 4 words                             0.767 / 0.797 (.862/.895)
... + 8 words                             0.775 / 0.813 (.863/.904)
heading in quick similarity at 0.25       0.762 / 0.816 (.863/.900)
... with no split                         0.760 / 0.791 (.850/.882)
lead-in in the split (with heading)       0.756 / 0.818 (.862/.909)  0.750 / 0.815 (.863/.910)
lead-in alone in the split                0.735 / 0.787 (.857/.893)
lead-in in deep similarity at 0.5                                    0.762 / 0.817 (.864/.902)
lead-in in deep similarity at 0.25                                   0.762 / 0.815 (.863/.901)
lead-in in deep split, rows only                                     0.755 / 0.814 (.862/.905)
... not "the following" lead-ins                                     0.760 / 0.820 (.862/.904)
... only summary captions                                            0.750 / 0.826 (.863/.911)
split: half its words in the statement    0.759 / 0.819 (.862/.900)  0.768 / 0.819
split: 2 of its words in the statement    0.760 / 0.818 (.848/.892)  0.760 / 0.815
split: 3+ word concepts only              0.774 / 0.781 (.854/.875)  0.773 / 0.797
split: a statement word rare in the doc   0.755 / 0.816 (.863/.899)  0.758 / 0.816
split: implementation phrases only        0.778 / 0.787 (.862/.881)
split: signals only                       0.743 / 0.806 (.861/.898)
parent headings in deep mode's split                                 0.764 / 0.808 (.860/.901)
========================================  =========================  =========================

Measured as a tenth feature of the decision and dropped (each LODO F1 quick DR / IDP, deep DR /
IDP): the best similarity of a statement read with its heading and lead-in at full weight
(0.763 / 0.760, 0.752 / 0.821); a **table-level unit**, the heading, lead-in and every row or
item of a table or list as one bag of words, its best similarity (0.751 / 0.764, 0.747 /
0.815); the share of the practice title's weight in a statement's heading and lead-in (0.758 /
0.794, 0.749 / 0.820) or in its own words with them (0.753 / 0.769, 0.744 / 0.815); the number
of concepts split across a statement and its heading and lead-in (0.746 / 0.799, 0.733 /
0.814). Any order across a whole row inflated Cost Optimization on the DR design (share of its
practices selected in-sample 0.55, reviewer 0.42, above Reliability), from the words of a
table's cells taken together ("Layer: Compute; Technology: EC2 Auto Scaling Groups; Rationale:
Cost optimization with pilot light" read as "Compute Optimizer" and "scaling cost"; the cell
rule loses some true matches too: "Tag: Owner; Required: Yes" no longer reads as "required
tags"). The rule in quick mode too (the fourth row) was measured at the review level and
dropped: quick LODO F1 0.766 / 0.806 but LODO risk agreement 45 / 46 of 57 instead of 47 / 47
(it selects more medium-risk practices the reviewer selected and fewer high-risk ones: quick
LODO F1 of the high-risk practices 0.865 / 0.844 before, 0.824 / 0.832 with it), and deep mode
then changed only 2 and 1 of 308 verdicts against quick mode. The shipped step (deep mode only)
keeps quick mode as it was and gives deep mode LODO F1 0.769 / 0.819 and risk 46 / 47 of 57 at
the review level (before 0.762 / 0.816 and 46 / 45; in-sample F1 0.774 / 0.808, before 0.769 /
0.824); deep mode then changes 35 and 50 of 308 verdicts against quick mode.

Vocabulary for recall, measured and dropped (the lever for false negatives whose reviewer line
is not among a practice's 10 best-ranked statements, "rank 10+" in ``review_accuracy.py --lodo
--causes``: 14 / 15 in quick mode). Feature level, LODO strict F1 DR / IDP with the shipped L2,
then (``m``) its mean over L2 0.7, 1, 1.4, 2 (in quick mode the threshold fitted on the other
document sits in a dense band: 21 / 40 practices within 0.015 of it, none matching a concept or
phrase; deep mode 8 / 7; so one L2 step moves IDP quick by 0.01), LODO AUC, and quick "rank
10+" DR / IDP; none raised F1 on both documents in both modes:

=================================================  ======================  ===============  ========
variant                                            quick F1 (m) / AUC      deep F1 (m)      rank 10+
=================================================  ======================  ===============  ========
shipped (Snowball English stems)                   .766/.801 (.765/.793)   .762/.816        14 / 15
                                                   .849/.881               (.764/.815)
Lancaster stems (``nltk``; over-stems:             .769/.796 .847/.881     .759/.817        13 / 13
replicate->reply, notify->not, operation->op)
Lancaster stem when >= 5 letters, else Snowball    .767/.778 (.770/.778)   .778/.831        12 / 14
(analyze = analysis, automate = automatic)         .857/.885               (.777/.830)
same, >= 6 letters                                 .773/.779               .769/.820        13 / 15
Snowball stems cut to 5 / to 6 letters             .734/.769, .741/.743    .755/.817,       17/17,
                                                                           .747/.806        15/14
-yse -> -yze and a final -i dropped after Snowball  .767/.787 (.760/.789)   .765/.821        14 / 15
irregular verbs to their lemma first (lemminflect) .770/.796 (.771/.792)   .768/.816        14 / 15
camelCase split (CostCenter = cost center)         .769/.762 (.768/.778)   .773/.810        13 / 11
                                                   .856/.888               (.771/.815)
Lancaster >= 5 and camelCase split                 .719/.773 .864/.891     .787/.829        19 / 11
Lancaster >= 5 classes kept only for stems that    .767/.769 (.772/.781)   .780/.830        13 / 13
co-occur in guidance notes above chance (Xu &      .856/.885               (.780/.828)
Croft 1998; analyze = analysis, automate =
automatic, not provide = provision)
BM25 length normalisation of similarity            .770/.794, .767/.794,   .756/.804,       13/18,
(k1 1.2; b .25, .5, .75)                           .759/.790               .757/.799,       14/19,
                                                                           .758/.799        14/18
query + terms in half the question's other notes   .765/.787               .765/.815        14 / 16
at half idf (a third, quarter idf)                 (.766/.791)             (.765/.816)      (14/18)
query + 10 top terms of the 5 nearest notes        .758/.783               .765/.809        11 / 16
(tf-idf cosine; pseudo-relevance feedback), half
query + the note's gaps and question title, half   .758/.796               .763/.810        12 / 17
=================================================  ======================  ===============  ========

The derivational and camelCase variants raise the LODO AUC on all four cells (by 0.004-0.018)
and deep-mode F1, but quick-mode F1 of the IDP document falls with the threshold fitted on the
DR document (at its own best threshold too, 0.791-0.796 against 0.801): they move the
similarity-only practices across the threshold band more than they reach the reviewer's line.
With the co-occurrence classes, of the 20 IDP quick verdicts that change, 15 are practices the
reviewer did not select at P 0.23-0.24, swept in because the threshold fitted on the DR
document moves from 0.24 to 0.23; the stems themselves move no such practice by more than 0.01
and raise 4 the reviewer selected by 0.17-0.58 (one crosses: 0.21 to 0.79). They are the best
candidate once the threshold no longer sits in that band (not shipped: a new dependency and a
class map built from the guidance before any statement is read).
Most "rank 10+" lines share no word family with the guidance ("Count: 2-10 (auto)" for
scaling on demand, "Tag: CostCenter" for cost attribution): a matter of inference, not of
stems. The latent semantic feature (:mod:`reviews.assessors.semantic`) is measured there.

Implementation phrases, step by step: strict F1 of "addressed", leave-one-document-out (LODO),
at the feature level (which equals the review's); DR / IDP per mode; the rules and cut-offs were
chosen looking at both documents' LODO figures (the phrases themselves were not touched):

=====================================================  ===============  ===============
step (L2 of the fit)                                   quick DR / IDP   deep DR / IDP
=====================================================  ===============  ===============
start: 6 features, no implementations (0.01)           0.730 / 0.782    0.739 / 0.793
implementation hits rank statements (0.01)             0.730 / 0.782    0.734 / 0.793
+ ``impl_weight`` (0.01)                               0.757 / 0.785    0.738 / 0.780
+ ``impl_similarity`` alone (0.01)                     0.712 / 0.778    0.736 / 0.785
+ both (0.01)                                          0.739 / 0.775    0.738 / 0.800
+ both, L2 1.0 (**shipped**)                           0.755 / 0.791    0.737 / 0.796
the 6 features alone at L2 1.0                         0.721 / 0.769    0.734 / 0.776
=====================================================  ===============  ===============

The shipped step raises the LODO AUC of P(addressed) from 0.806 / 0.851 (quick) and 0.834 /
0.879 (deep) to 0.845 / 0.882 and 0.859 / 0.902; at the best threshold for the document itself
F1 would be 0.770 / 0.794 and 0.755 / 0.816, so the phrases move the ranking more than the F1 a
threshold fitted on the other document reaches. Implementation hits in the quote ranking put
the reviewer's line among the 3 quoted lines for 67 (DR) and 69 (IDP) of the addressed
practices in quick mode, 63 and 66 without. Measured and dropped (LODO, same order): the
phrases merged into the signals' concepts (0.772 / 0.790, 0.739 / 0.772: the ``partly`` verdict
and the concept counts change meaning for one row); every 2+ word sub-phrase of a phrase as a
weaker phrase (twice the matches, half of them on practices the reviewer did not select; 0.754
/ 0.788, 0.731 / 0.780); the phrases' words in the similarity query at half weight (0.703 /
0.767, 0.738 / 0.807); :data:`IMPL_NOTES` 1 or 6 and :data:`IMPL_SHARE` 0.02 or none, within
0.01 of the shipped figures (on these two documents the share rule removes no phrase; it is
kept for designs built on one service); no deep-mode heading context for the phrases; the
figures of the best statement instead of anywhere; the heading's words in deep mode's
``impl_similarity`` (no change); a naming line (requirement, risk, "must") with an
implementation phrase counted as showing the practice (within 0.006, the same quotes).
``names_only`` and ``phrases_x_similarity`` now carry no weight: without them the shipped step
gives 0.767 / 0.791, 0.729 / 0.796.

Statement concreteness against false positives (about 30 per document in quick mode LODO):
measured and dropped. The reviewer's rule is that a practice is addressed by a concrete
decision, control, process or artifact, and many false positives rest on lead-ins, purpose
lines, risk-register rows or lines matching only the generic half of a practice; but the best
line of a false positive is as concrete as that of a true positive (quick LODO, DR / IDP: it
shows the practice in place for 0.67 / 0.74 of false positives and 0.68 / 0.74 of true
positives, is :func:`reviews.document.concrete` for 0.73 / 0.82 and 0.73 / 0.78, is a lead-in
for 0.13 / 0.12 and 0.08 / 0.09), while the reviewer's own lines are lead-ins for 0.02 / 0.03
(0.11 / 0.13 of all present lines) and purpose lines for 0.05 / 0.04 (0.13 / 0.15): such lines
rarely carry a truth quote, but leaving them out removes true positives' evidence as well.
``benchmarks/concreteness_variants.py`` prints, LODO at the feature level, F1 / AUC per
document and the 90% paired bootstrap interval of the F1 change (1,000 resamples; measured
before the name rule below, the script prints the current figures): every interval contains 0
or lies below it; the best, deep DR without lead-ins, is [0, +0.020] with its AUC 0.863 ->
0.854.

=====================================================  ===============  ===============
variant (F1; AUC where marked)                         quick DR / IDP   deep DR / IDP
=====================================================  ===============  ===============
shipped features                                       0.766 / 0.801    0.762 / 0.816
  (AUC)                                                0.849 / 0.881    0.863 / 0.901
+ concreteness of the best ranked line                 0.749 / 0.768    0.768 / 0.810
+ concreteness of the best matched line                0.761 / 0.799    0.762 / 0.810
+ similarity over decision lines only                  0.769 / 0.799    0.753 / 0.811
every feature from decision lines only                 0.721 / 0.749    0.745 / 0.747
  (AUC)                                                0.805 / 0.836    0.823 / 0.850
every feature without lead-ins                         0.760 / 0.779    0.771 / 0.817
every feature without lead-in, risk, summary lines     0.740 / 0.752    0.753 / 0.794
+ distinguishing words of the best matched line        0.761 / 0.793    0.756 / 0.816
+ designability prior (guidance only)                  0.761 / 0.799    0.765 / 0.816
=====================================================  ===============  ===============

"Decision lines" show the practice, are concrete and carry no purpose wording; "distinguishing
words" weigh the title's words by idf times idf among the notes of the practice's own question;
"designability" is the share of a note's implementation phrases and signals that name an AWS
service or a number. Also measured with a temporary weight in :func:`practice_evidence` and
dropped (quick DR / IDP, deep DR / IDP; AUC within 0.008 of the shipped in every case): lead-in,
risk and summary lines at half weight in every feature (0.759 / 0.768, 0.767 / 0.819); summary
lines alone at half weight in the concept and implementation counts (0.767 / 0.790, 0.779 /
0.817); a signal listed by more than 3 notes counted at half unless its line also holds a
specific word (in at most 100 notes) of the practice's title or question (0.766 / 0.794, 0.727
/ 0.819 counting concepts too); similarity with BM25 length normalisation, b = 0.1 to 0.5
(0.765 / 0.794 at best, 0.756 / 0.804). Restricting evidence to decision lines loses more
true positives than false ones: the reviewer accepts summary sentences, requirement lines and
lead-ins often enough (a tenth to a sixth of the truth quotes are such lines). As a veto, "the
best ranked line has concreteness -1 or less" would unselect 20 / 21 true positives for 8 / 6
false positives (quick LODO). Product names matched only when the line writes them with
capitals: 0.765 / 0.794 and 0.756 / 0.809 for signals, 0.770 / 0.803 and 0.762 / 0.811 for
implementation phrases, dropped.

**Names are their written words** (shipped): a signal or implementation phrase whose content
words are all capitalised is a product or feature name (``Detective``, ``State Manager``,
``Logs Insights``); its own form matches only where the statement (in deep mode with its
innermost heading) writes each of its non-acronym words (:func:`name_words`, :func:`written`:
case-insensitive, a plural "s" and a hyphen aside), since their stems collide with ordinary
words ("PII detection", "state management", "Compute ... optimization"). An acronym form of
the name is not held to its words. Strict F1, LODO at the feature level, DR / IDP, before ->
after: quick 0.766 / 0.801 -> 0.761 / 0.810 (AUC 0.849 / 0.881 -> 0.848 / 0.886), deep 0.762 /
0.816 -> 0.755 / 0.824 (AUC 0.863 / 0.901 -> 0.863 / 0.907); IDP false positives 34 -> 31 and
32 -> 29. In quick mode no DR feature changes (no name on the DR document matches by stem
only): its -0.005 is the refit on the IDP document's corrected features moving the threshold
by one practice. In deep mode the rule also removes DR matches of ``Secrets Manager`` (a line
under the heading "Secrets Management") and ``Compute Optimizer`` ("Compute" and "Cost
optimization"), which had supported true positives: -0.007 on DR against +0.008 on IDP.
Exempting deep mode's statement-plus-heading matches from the rule gives deep 0.768 / 0.816
(quick unchanged), checking single-word names only 0.761 / 0.804 and 0.768 / 0.816; kept the
plain rule (a name is the name wherever it is read).

**Precision rules tried, not shipped** (each alone on top of the rule above; strict F1 LODO DR
/ IDP quick, deep; from 0.761 / 0.810, 0.772 / 0.825; LODO AUC from 0.848 / 0.886, 0.861 /
0.906; first quotes that are the reviewer's line, LODO selection, quick then deep, from 40/97,
47/113, 45/95, 52/113; the code is commit "lexical: four precision rules, measured"): (1) an
identifier's words are no words (a hyphen/underscore run of three or more parts with a digit or
a ``{placeholder}``, or with a zero-led number part: ``CC-IDP-001``, ``us-east-1``,
``prod-idp-documents-123456789``, ``{env}-{app}-{tier}``; ``AES-256``, ``15-minute``,
``point-in-time`` stay words): 0.761 / 0.803, 0.772 / 0.812, AUC 0.849 / 0.887, 0.862 / 0.907
(better on all four), risk 47 / 45, 46 / 46, quotes 40/97, 47/112, 46/95, 51/110. The features
of the true positives it loses on IDP (one quick, three deep, at P 0.24 / 0.43) do not move:
the refit on the DR document's features moves the threshold (on DR, ``impl_similarity`` and
``affinity`` move on 36 practices, P by at most 0.02). (2) an acronym the document defines for other
words ("Intelligent Document Processing (IDP)") shows no practice whose note shares none of
them (the implementation phrase ``IdP``): 0.763 / 0.806, 0.763 / 0.821, AUC 0.848 / 0.884,
0.861 / 0.904; its one feature change unselects the IDP document's identity-provider practice,
which the reviewer marks addressed (by a Cognito line) and we had found through the wrong IDP.
(3) a one-word concept needs its own derivational suffix (-ity, -ation: "criticality" is not
"critical", "documentation" not "document"): 0.764 / 0.781, 0.772 / 0.821, AUC 0.848 / 0.884,
0.862 / 0.905; on DR it removes a false positive (knowledge management, by "document") and a
true positive found by "criticality" / "confidentiality", and the refit selects a cluster of
IDP false positives at P 0.24 (precision 0.785 -> 0.726). (4) the words of a multi-word product
name the notes list (``Secrets Manager``, ``Auto Scaling``) are no ordinary words for
similarity, title cover and one-word concepts: 0.766 / 0.800, 0.769 / 0.812, AUC 0.848 / 0.885,
0.860 / 0.906: names mostly mean their words (Secrets Manager holds secrets, Auto Scaling
scales), and the notes do not list ``Step Functions``, the case that prompted it. Rules (1) and
(2) together: 0.755 / 0.799, 0.763 / 0.807.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import snowballstemmer

from lenses.catalog import GuidanceNote
from reviews.assessors.affinity import TopicModel, best_affinity, build_topics
from reviews.document import DocumentModel, Statement, roles_named, shows_for
from tools.text import STOPWORDS as BASE_STOPWORDS

SPECIFIC_NOTES = 15
SPECIFIC_SHARE = 0.08
#: an implementation phrase listed (on its own or inside a longer phrase) by more notes than
#: this shows none of them
IMPL_NOTES = 3
#: an implementation phrase found in more than this share of a document's statements is that
#: document's common vocabulary, not evidence of one practice
IMPL_SHARE = 0.05
#: the idf weight of implementation phrases that makes one unit of the ``impl_weight`` feature
#: (BM25 idf of a phrase listed by one note of ~300 is ~5), and the feature's cap
IMPL_UNIT = 5.0
IMPL_CAP = 2.0
#: implementation phrases matched in a statement raise its rank by up to one matched signal
IMPL_RANK_WEIGHT = 1.0
MAX_GRAM = 6  # longest phrase looked up in a statement's n-gram set (longer: scanned)
CONTEXT_WEIGHT = 0.5
RELEVANT_STATEMENTS = 12  # statements a model assessor is shown per question
TITLE_WEIGHT = 3.0
STOPWORDS = BASE_STOPWORDS | frozenset(
    ["each", "per", "use", "used", "using", "via", "we", "were", "you", "your", "e", "g", "eg"]
)
_ACRONYM = re.compile(r"\b([A-Za-z][\w/-]*(?:\s+[\w/-]+){1,5})\s+\(([A-Z][A-Za-z0-9]{1,6})\)")
#: general spelling variants of design documents (joined / split compounds)
VARIANTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("fail", "over"): ("failover",),
    ("back", "up"): ("backup",),
    ("roll", "back"): ("rollback",),
    ("multi", "az"): ("multiaz",),
    ("multi", "region"): ("multiregion",),
    ("run", "book"): ("runbook",),
    ("play", "book"): ("playbook",),
}


_WORD = re.compile(r"[A-Za-z0-9]+")
_STEMMERS = threading.local()  # a Snowball stemmer keeps state while it stems: one per thread


def _stems(words: list[str]) -> list[str]:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return list(stemmer.stemWords(words))


#: the variants above as stems (``fail over`` and ``failover`` -> one token)
_STEMMED_VARIANTS: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(_stems(list(k))): tuple(_stems(list(v))) for k, v in VARIANTS.items()
}


def content(words: list[str]) -> tuple[str, ...]:
    """Stems of the content words (lower-cased words, stopwords dropped before stemming),
    compounds joined (``fail over`` -> ``failov``, as ``failover``).

    Stems are the Snowball English stemmer's (Porter, "Snowball: A language for stemming
    algorithms", 2001; the ``snowballstemmer`` package), so inflections of one word agree
    (``estimate``/``estimated``, ``trace``/``tracing``/``traces``).
    """
    kept = [w for w in words if w not in STOPWORDS and len(w) > 1]
    stems = _stems(kept)
    out: list[str] = []
    i = 0
    while i < len(stems):
        pair = tuple(stems[i : i + 2])
        if pair in _STEMMED_VARIANTS:
            out.extend(_STEMMED_VARIANTS[pair])
            i += 2
            continue
        out.append(stems[i])
        i += 1
    return tuple(out)


@lru_cache(maxsize=65536)
def content_of(text: str) -> tuple[str, ...]:
    """The content stems of a text (cached)."""
    return content([w.lower() for w in _WORD.findall(text)])


@dataclass
class Corpus:
    """Word statistics of the guidance notes: note frequency, idf, acronym equivalences."""

    notes: int
    df: Counter[str]
    acronyms: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    listed: Counter[tuple[str, ...]] = field(default_factory=Counter)
    topics: TopicModel | None = None

    def idf(self, word: str) -> float:
        """Smoothed inverse note frequency (BM25's, floored at 0)."""
        n = self.df.get(word, 0)
        return max(0.0, math.log((self.notes - n + 0.5) / (n + 0.5) + 1.0))

    def phrase_idf(self, form: tuple[str, ...]) -> float:
        """BM25's idf of a phrase over the notes that list it (:attr:`listed`, at least 1)."""
        n = max(1, self.listed.get(form, 0))
        return max(0.0, math.log((self.notes - n + 0.5) / (n + 0.5) + 1.0))


def note_text(note: GuidanceNote) -> str:
    """The text of a note that queries are built from: title, good, signals."""
    return " ".join([note.title, note.good, *note.signals])


def build_corpus(notes: list[GuidanceNote]) -> Corpus:
    """Note frequencies over the guidance corpus and the acronyms the notes define."""
    df: Counter[str] = Counter()
    acronyms: dict[tuple[str, ...], tuple[str, ...]] = {}
    listed: Counter[tuple[str, ...]] = Counter()
    for note in notes:
        df.update(set(content_of(note_text(note))))
        grams: set[tuple[str, ...]] = set()
        for text in (*note.signals, *note.implementations):
            grams |= ngrams(content_of(text))
        listed.update(grams)
        for text in (note.good, *note.signals, *note.gaps):
            for m in _ACRONYM.finditer(text):
                long, short = content_of(m.group(1)), content_of(m.group(2))
                words = long[-len(m.group(2)) :] if len(long) > len(m.group(2)) else long
                if short and words and "".join(w[0] for w in words) == short[0][: len(words)]:
                    acronyms[short] = words
    return Corpus(
        notes=len(notes), df=df, acronyms=acronyms, listed=listed, topics=build_topics(notes)
    )


_CORPORA: dict[int, Corpus] = {}
_CORPORA_LOCK = threading.Lock()


def corpus_for(notes: list[GuidanceNote]) -> Corpus:
    """:func:`build_corpus` of ``notes`` (a few seconds), built once per process for the same
    notes (keyed by the notes' whole content; the last four kept) and shared by the assessors
    and the plan's sentences. Treat the result as read-only."""
    key = hash(tuple(n.model_dump_json() for n in notes))
    with _CORPORA_LOCK:
        found = _CORPORA.get(key)
    if found is None:
        found = build_corpus(notes)
        with _CORPORA_LOCK:
            if len(_CORPORA) >= 4:
                _CORPORA.clear()
            _CORPORA[key] = found
    return found


def ngrams(tokens: tuple[str, ...], longest: int = MAX_GRAM) -> set[tuple[str, ...]]:
    """Every contiguous run of 1 to ``longest`` tokens."""
    return {
        tokens[i : i + n]
        for n in range(1, min(longest, len(tokens)) + 1)
        for i in range(len(tokens) - n + 1)
    }


@dataclass
class Concept:
    """One signal of a practice as content tokens; ``alternatives`` are equivalent spellings."""

    signal: str
    forms: list[tuple[str, ...]]
    weight: float = 1.0

    @property
    def single(self) -> bool:
        """True when every form is one word."""
        return all(len(f) == 1 for f in self.forms)


def concepts(note: GuidanceNote, corpus: Corpus) -> list[Concept]:
    """The practice's concepts: its signals with acronym forms (see the module docstring)."""
    return _phrases(note.signals, corpus)


def implementations(note: GuidanceNote, corpus: Corpus) -> list[Concept]:
    """The practice's implementation phrases as concepts (acronym forms added), without those
    that repeat one of its signals; each weighs its :meth:`Corpus.phrase_idf`."""
    signals = {f for c in concepts(note, corpus) for f in c.forms}
    out = [c for c in _phrases(note.implementations, corpus) if not set(c.forms) & signals]
    for c in out:
        c.weight = corpus.phrase_idf(c.forms[0])
    return out


def _phrases(texts: list[str], corpus: Corpus) -> list[Concept]:
    out: list[Concept] = []
    for text in texts:
        form = content_of(text)
        if not form:
            continue
        forms = [form]
        if form in corpus.acronyms:
            forms.append(corpus.acronyms[form])
        for short, long in corpus.acronyms.items():
            if form == long:
                forms.append(short)
        out.append(Concept(signal=text, forms=list(dict.fromkeys(forms))))
    return out


def contains(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """True when ``phrase`` occurs contiguously in ``tokens`` (never for an empty phrase)."""
    n = len(phrase)
    if not n or n > len(tokens):
        return False
    return any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))


@dataclass
class StatementView:
    """A statement's content tokens, and (deep mode) its context tokens."""

    stmt: Statement
    tokens: tuple[str, ...]
    context: frozenset[str] = frozenset()

    @cached_property
    def grams(self) -> frozenset[tuple[str, ...]]:
        """Every contiguous run of up to :data:`MAX_GRAM` tokens (phrase lookup in O(1))."""
        return frozenset(ngrams(self.tokens))

    @cached_property
    def parts(self) -> tuple[frozenset[str], ...]:
        """Where a phrase's words may occur in any order: each cell of a table row with its
        column name (``"column: value"``; words of two cells are two facts), else the whole
        statement."""
        if self.stmt.kind != "row":
            return (frozenset(self.tokens),)
        return tuple(frozenset(content_of(cell)) for cell in self.stmt.text.split("; "))

    def has(self, form: tuple[str, ...]) -> bool:
        """True when ``form`` occurs contiguously in the statement's own tokens."""
        return form in self.grams if len(form) <= MAX_GRAM else contains(self.tokens, form)


@dataclass
class DocumentViews:
    """Per-document token views of the present statements and word shares (built once)."""

    views: list[StatementView]
    share: dict[str, float]
    deep: bool
    _phrase_share: dict[tuple[str, ...], float] = field(default_factory=dict, repr=False)

    def phrase_share(self, form: tuple[str, ...]) -> float:
        """Share of the present statements containing ``form`` contiguously (cached)."""
        if len(form) == 1:
            return self.share.get(form[0], 0.0)
        if form not in self._phrase_share:
            n = sum(v.has(form) for v in self.views)
            self._phrase_share[form] = n / max(1, len(self.views))
        return self._phrase_share[form]


def document_views(model: DocumentModel, deep: bool) -> DocumentViews:
    """Content-token views of the present statements (with context in deep mode)."""
    evidence = model.evidence()
    toks = {s.index: content_of(s.text) for s in evidence}
    share_count: Counter[str] = Counter()
    for t in toks.values():
        share_count.update(set(t))
    n = max(1, len(toks))
    share = {w: c / n for w, c in share_count.items()}
    views = []
    for s in evidence:
        if not s.present:
            continue
        context: set[str] = set()
        if deep:
            for heading in s.section[-1:]:
                context.update(content_of(heading))
            context -= set(toks[s.index])
        views.append(StatementView(s, toks[s.index], frozenset(context)))
    return DocumentViews(views=views, share=share, deep=deep)


@dataclass
class PracticeEvidence:
    """Figures of one practice on one document, and its best statements (best first).

    ``phrases``: most distinct concepts matched in one present statement; ``concepts``: distinct
    concepts matched anywhere; ``similarity``: best statement similarity (0-1);
    ``similarity2``: second best; ``matched``: signals matched; ``title_cover``: statement
    index -> share of the practice title's idf weight found in the statement's *own* words
    (not its section or neighbours), the cross-check that a quote names what the practice is
    about rather than only generic words of its guidance; ``showing``: indexes of the ranked
    statements that show the practice in place rather than only name it
    (:func:`reviews.document.shows_for`, with the lists the practice's title names).
    ``implemented``: the implementation phrases (:func:`implementations`) matched in present
    statements; ``impl_weight``: their summed phrase idf in units of :data:`IMPL_UNIT`, capped
    at :data:`IMPL_CAP`; ``impl_similarity``: the best statement's share of the idf weight of
    the words of the practice's implementation phrases (0-1). In :attr:`ranked`, a statement's
    matched names list its signals, then its implementation phrases.
    """

    phrases: float
    concepts: int
    similarity: float
    similarity2: float
    ranked: list[tuple[Statement, float, list[str]]]
    matched: list[str]
    title_cover: dict[int, float] = field(default_factory=dict)
    showing: frozenset[int] = frozenset()
    implemented: list[str] = field(default_factory=list)
    impl_weight: float = 0.0
    impl_similarity: float = 0.0
    affinity: float = 0.0

    def vector(self) -> list[float]:
        """The feature vector of the calibrated decision (in the order of :data:`FEATURES`)."""
        return [
            self.phrases,
            float(min(self.concepts, 4)),
            self.similarity,
            self.similarity2,
            self.phrases * self.similarity,
            self.names_only,
            self.impl_weight,
            self.impl_similarity,
            self.affinity,
        ]

    @property
    def names_only(self) -> float:
        """1.0 when the practice's concepts are matched only in statements that name them
        without showing the practice in place (:attr:`showing`), else 0.0."""
        shown = any(hits and stmt.index in self.showing for stmt, _, hits in self.ranked)
        return float(self.phrases > 0 and not shown)


FEATURES = (
    "phrases",
    "concepts",
    "similarity",
    "similarity2",
    "phrases_x_similarity",
    "names_only",
    "impl_weight",
    "impl_similarity",
    "affinity",
)


def practice_evidence(note: GuidanceNote, views: DocumentViews, corpus: Corpus) -> PracticeEvidence:
    """Match a practice's concepts, implementation phrases and guidance terms against the
    document's statements (see the module docstring)."""
    query: dict[str, float] = {}
    for word in content_of(note_text(note)):
        query[word] = corpus.idf(word)
    for word in content_of(note.title):
        query[word] = TITLE_WEIGHT * corpus.idf(word)
    total = sum(query.values()) or 1.0
    title = {word: corpus.idf(word) for word in content_of(note.title)}
    title_total = sum(title.values()) or 1.0
    cover: dict[int, float] = {}
    cons = concepts(note, corpus)
    impls = [
        Concept(c.signal, forms, c.weight)
        for c in implementations(note, corpus)
        if (forms := [f for f in c.forms if _usable(f, corpus, views)])
    ]
    impl_query = {
        w: corpus.idf(w)
        for c in impls
        for w in c.forms[0]
        if views.share.get(w, 0.0) <= SPECIFIC_SHARE
    }
    impl_total = sum(impl_query.values()) or 1.0
    cons_words = {w for c in cons for f in c.forms for w in f}
    impl_words = {w for c in impls for f in c.forms for w in f}
    ranked: list[tuple[Statement, float, list[str]]] = []
    matched_any: set[str] = set()
    impl_found: dict[str, float] = {}
    best_phrases = 0.0
    best_impl_sim = 0.0
    sims: list[float] = []
    matched_views: list[StatementView] = []
    for view in views.views:
        words = set(view.tokens)
        hits: list[str] = []
        impl_hits: list[Concept] = []
        if not words.isdisjoint(cons_words):  # every match needs one of its words here
            hits = [c.signal for c in cons if _found(c, view, corpus, views)]
        if not words.isdisjoint(impl_words):
            impl_hits = [c for c in impls if _found(c, view, corpus, views)]
        sim = sum(w for q, w in query.items() if q in words) / total
        if views.deep and view.context:
            sim += (
                CONTEXT_WEIGHT
                * sum(w for q, w in query.items() if q in view.context and q not in words)
                / total
            )
        sims.append(sim)
        best_impl_sim = max(
            best_impl_sim, sum(w for q, w in impl_query.items() if q in words) / impl_total
        )
        if hits:
            matched_any.update(hits)
            best_phrases = max(best_phrases, float(len(hits)))
        impl_found.update((c.signal, c.weight) for c in impl_hits)
        if hits or impl_hits:
            matched_views.append(view)
        if hits or sim > 0 or impl_hits:
            lift = min(1.0, sum(c.weight for c in impl_hits) / IMPL_UNIT)
            ranked.append(
                (view.stmt, len(hits) + sim + IMPL_RANK_WEIGHT * lift, hits + _names(impl_hits))
            )
            cover[view.stmt.index] = sum(w for q, w in title.items() if q in words) / title_total
    roles = roles_named(note.title)
    showing = frozenset(s.index for s, _, _ in ranked if shows_for(s, roles))
    ranked.sort(key=lambda r: (-r[1], r[0].index))
    sims.sort(reverse=True)
    return PracticeEvidence(
        phrases=best_phrases,
        concepts=len(matched_any),
        similarity=sims[0] if sims else 0.0,
        similarity2=sims[1] if len(sims) > 1 else 0.0,
        ranked=ranked,
        matched=sorted(matched_any),
        title_cover=cover,
        showing=showing,
        implemented=sorted(impl_found),
        impl_weight=min(IMPL_CAP, sum(impl_found.values()) / IMPL_UNIT),
        impl_similarity=best_impl_sim,
        affinity=_affinity(corpus, matched_views, note.pillar_id),
    )


def _affinity(corpus: Corpus, matched: list[StatementView], pillar_id: str) -> float:
    """The ``affinity`` feature: the best pillar affinity (:mod:`reviews.assessors.affinity`)
    of the statements matching a concept or implementation phrase, each read with its own
    section heading (in both modes: the heading says what a line is about), 0 when none
    matches."""
    if not matched or corpus.topics is None:
        return 0.0
    texts = [v.tokens + content_of(" ".join(v.stmt.section[-1:])) for v in matched]
    return best_affinity(corpus.topics, texts, pillar_id)


def _names(found: list[Concept]) -> list[str]:
    return list(dict.fromkeys(c.signal for c in found))


def _usable(form: tuple[str, ...], corpus: Corpus, views: DocumentViews) -> bool:
    """Whether an implementation phrase's form can show its practice: listed by at most
    :data:`IMPL_NOTES` notes, in at most :data:`IMPL_SHARE` of the document's statements, and a
    single word only when it is specific (:func:`_specific`, as for a signal)."""
    if corpus.listed.get(form, 0) > IMPL_NOTES or views.phrase_share(form) > IMPL_SHARE:
        return False
    return len(form) > 1 or _specific(form[0], corpus, views)


def _specific(word: str, corpus: Corpus, views: DocumentViews) -> bool:
    """A single word counts only when rare across the notes and in the document."""
    return (
        corpus.df.get(word, 0) <= SPECIFIC_NOTES
        and views.share.get(word, 0.0) <= SPECIFIC_SHARE
        and len(word) > 2
    )


_NAME_WORD = re.compile(r"[A-Za-z][\w-]*")


@lru_cache(maxsize=8192)
def name_words(phrase: str) -> tuple[str, ...]:
    """The words a statement must write for ``phrase`` to match when the phrase is a product or
    feature name: every content word capitalised (``Detective``, ``State Manager``, ``Logs
    Insights``, ``VPC Flow Logs``); its words of 3+ letters that are not all capitals (acronyms
    are matched as written anyway), lower-cased, a plural "s" dropped (``("detective",)``,
    ``("state", "manager")``, ``("log", "insight")``, ``("flow", "log")``). Empty when the
    phrase is not such a name (``rate limiting``) or only acronyms (``DLQ``)."""
    words = [w for w in _NAME_WORD.findall(phrase) if w.lower() not in STOPWORDS]
    if not words or not all(w[0].isupper() for w in words):
        return ()
    return tuple(w.lower().removesuffix("s") for w in words if not w.isupper() and len(w) >= 3)


def written(words: tuple[str, ...], view: StatementView, deep: bool) -> bool:
    """True when the statement (and, in ``deep`` mode, its innermost heading) writes every one
    of ``words`` (:func:`name_words`) as a whole word, case-insensitively, with or without a
    plural "s": a product name is its written words, not their stems (``Detective`` never
    matches "PII detection", ``State Manager`` never "state management")."""
    text = f"{view.stmt.text} {view.stmt.quote}"
    if deep:
        text += " " + " ".join(view.stmt.section[-1:])
    return all(_whole_word(w).search(text) for w in words)


@lru_cache(maxsize=8192)
def _whole_word(word: str) -> re.Pattern[str]:
    """``word`` as a whole word, case-insensitive, a plural "s" allowed, a hyphen optional."""
    body = r"[-\s]?".join(re.escape(part) for part in word.split("-"))
    return re.compile(rf"\b{body}s?\b", re.I)


def _found(concept: Concept, view: StatementView, corpus: Corpus, views: DocumentViews) -> bool:
    """True when one of the concept's forms matches the statement (:func:`_matches`); its own
    form (not an acronym alternative) only where the statement writes a name's words
    (:func:`written`)."""
    for n, form in enumerate(concept.forms):
        if _matches(form, view, corpus, views) and (
            n > 0 or written(name_words(concept.signal), view, views.deep)
        ):
            return True
    return False


def _matches(
    form: tuple[str, ...], view: StatementView, corpus: Corpus, views: DocumentViews
) -> bool:
    if len(form) == 1:
        return _specific(form[0], corpus, views) and form[0] in view.tokens
    if view.has(form):
        return True
    if not views.deep:
        return False
    # deep mode: its words in any order in one part of the statement (a table row's cell with
    # its column name, else the whole statement), or split between that part and its heading
    return any(
        any(w in part for w in form) and all(w in part or w in view.context for w in form)
        for part in view.parts
    )


def relevant_statements(
    model: DocumentModel, notes: list[GuidanceNote], corpus: Corpus, k: int = 12
) -> list[tuple[Statement, float]]:
    """The document's statements most relevant to a question's practices, best first.

    Every evidence statement (present or qualified: a model must see "(future)" lines to judge
    them) is scored by its best concept matches plus similarity over the practices' notes; the
    top ``k`` with a positive score are returned in document order with their score.
    """
    everyone = DocumentViews(
        views=[StatementView(s, content_of(s.text)) for s in model.evidence()],
        share=document_views(model, deep=False).share,
        deep=False,
    )
    best: dict[int, tuple[Statement, float]] = {}
    for note in notes:
        for stmt, score, _ in practice_evidence(note, everyone, corpus).ranked[:k]:
            if score > best.get(stmt.index, (stmt, 0.0))[1]:
                best[stmt.index] = (stmt, score)
    top = sorted(best.values(), key=lambda r: -r[1])[:k]
    return sorted(top, key=lambda r: r[0].index)
