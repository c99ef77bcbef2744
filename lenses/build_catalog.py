# ruff: noqa: E501
"""Generate ``lenses/wellarchitected/lens.json`` and ``lens.meta.json`` from the official ids.

Run from the repository root (only needed when the ids, the guidance notes or the texts below
change; the generated files are committed)::

    python -m lenses.build_catalog [--ids ../shared/data/wellarchitected/framework-lens-ids.json]

Inputs:

- the official pillar, question and choice ids, numbers, titles, risks and best-practice ids of
  the ``wellarchitected`` lens (``framework-lens-ids.json``, see its README: 6 pillars, 57
  questions, 308 best practices, as of the framework version of 2024-06-27);
- ``NONE_CHOICES``: each question's "None of these" choice id. The WA Tool names it
  ``<pillar prefix>_<question key>_no``, where the key is usually the question id with ``-``
  replaced by ``_`` but keeps some older names (``ops_telemetry_no`` for OPS 4, ``perf_data_no``
  for PERF 3, ``sec_appsec_no`` for SEC 11). The ids were read from WA Tool ``ListAnswers``
  output of the 2024-06-27 lens recorded in public repositories, not guessed;
- ``RISK_FALLBACK``: risks of the three best practices the 2026 documentation no longer lists
  (their risk in the documentation of the lens version these ids follow);
- the guidance notes (``guidance/*.yaml``): each choice's helpful-resource text is its note's
  "what good looks like", its improvement plan lists the note's common gaps;
- ``QUESTION_DESCRIPTIONS``: one description per question.

All descriptive text is written for this project; only ids, numbers and titles are AWS's. Risk
rules follow the usual Well-Architected pattern: every best practice selected -> ``NO_RISK``;
every HIGH-risk best practice selected -> ``MEDIUM_RISK`` (at least one best practice when the
question has no HIGH-risk one); otherwise (``default``) -> ``HIGH_RISK``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from lenses.conditions import all_of, any_of

HERE = Path(__file__).resolve().parent
LENS_DIR = HERE / "wellarchitected"
DEFAULT_IDS = HERE.parent.parent / "shared" / "data" / "wellarchitected" / "framework-lens-ids.json"
VERSION = "2024-06-27"
DOCS = "https://docs.aws.amazon.com/wellarchitected"

LENS_NAME = "AWS Well-Architected Framework"
LENS_DESCRIPTION = (
    "The six pillars of the AWS Well-Architected Framework (operational excellence, security, "
    "reliability, performance efficiency, cost optimization, sustainability) with the WA Tool's "
    "question and choice ids. Descriptions, helpful resources and improvement plans are short "
    "summaries written for this project; follow the links for the official guidance."
)

NONE_CHOICES = {
    "priorities": "ops_priorities_no",
    "ops-model": "ops_ops_model_no",
    "org-culture": "ops_org_culture_no",
    "observability": "ops_telemetry_no",
    "dev-integ": "ops_dev_integ_no",
    "mit-deploy-risks": "ops_mit_deploy_risks_no",
    "ready-to-support": "ops_ready_to_support_no",
    "workload-observability": "ops_workload_observability_no",
    "operations-health": "ops_operations_health_no",
    "event-response": "ops_event_response_no",
    "evolve-ops": "ops_evolve_ops_no",
    "securely-operate": "sec_securely_operate_no",
    "identities": "sec_identities_no",
    "permissions": "sec_permissions_no",
    "detect-investigate-events": "sec_detect_investigate_events_no",
    "network-protection": "sec_network_protection_no",
    "protect-compute": "sec_protect_compute_no",
    "data-classification": "sec_data_classification_no",
    "protect-data-rest": "sec_protect_data_rest_no",
    "protect-data-transit": "sec_protect_data_transit_no",
    "incident-response": "sec_incident_response_no",
    "application-security": "sec_appsec_no",
    "manage-service-limits": "rel_manage_service_limits_no",
    "planning-network-topology": "rel_planning_network_topology_no",
    "service-architecture": "rel_service_architecture_no",
    "prevent-interaction-failure": "rel_prevent_interaction_failure_no",
    "mitigate-interaction-failure": "rel_mitigate_interaction_failure_no",
    "monitor-aws-resources": "rel_monitor_aws_resources_no",
    "adapt-to-changes": "rel_adapt_to_changes_no",
    "tracking-change-management": "rel_tracking_change_management_no",
    "backing-up-data": "rel_backing_up_data_no",
    "fault-isolation": "rel_fault_isolation_no",
    "withstand-component-failures": "rel_withstand_component_failures_no",
    "testing-resiliency": "rel_testing_resiliency_no",
    "planning-for-recovery": "rel_planning_for_recovery_no",
    "performing-architecture": "perf_performing_architecture_no",
    "compute-hardware": "perf_compute_hardware_no",
    "data-management": "perf_data_no",
    "networking": "perf_networking_no",
    "process-culture": "perf_process_culture_no",
    "cloud-financial-management": "cost_cloud_financial_management_no",
    "govern-usage": "cost_govern_usage_no",
    "monitor-usage": "cost_monitor_usage_no",
    "decomissioning-resources": "cost_decomissioning_resources_no",
    "select-service": "cost_select_service_no",
    "type-size-number-resources": "cost_type_size_number_resources_no",
    "pricing-model": "cost_pricing_model_no",
    "data-transfer": "cost_data_transfer_no",
    "manage-demand-resources": "cost_manage_demand_resources_no",
    "evaluate-new-services": "cost_evaluate_new_services_no",
    "evaluate-cost-effort": "cost_evaluate_cost_effort_no",
    "sus_region": "sus_sus_region_no",
    "sus_user": "sus_sus_user_no",
    "sus_software": "sus_sus_software_no",
    "sus_data": "sus_sus_data_no",
    "sus_hardware": "sus_sus_hardware_no",
    "sus_dev": "sus_sus_dev_no",
}

RISK_FALLBACK = {
    # Dropped from the 2026 documentation; risk as documented for the 2024 framework version.
    "ops_ready_to_support_const_orr": ("HIGH", "OPS07-BP02"),
    # The documentation reused REL10-BP02 and REL12-BP03 for other practices: no bp_id.
    "rel_fault_isolation_select_location": ("HIGH", None),
    "rel_testing_resiliency_test_functional": ("HIGH", None),
}

DOC_PAGE = {"sec_network_protection_auto_protect": "sec_network_auto_protect"}

# The ids file keeps its source's short name; the WA Tool and the documentation use this one.
PILLAR_NAMES = {"performance": "Performance Efficiency"}

QUESTION_DESCRIPTIONS = {
    "priorities": "Decide what operations should focus on by weighing the needs of customers and internal teams, governance and compliance obligations, threats and trade-offs.",
    "ops-model": "Make ownership explicit: who owns each resource, process and activity, how teams ask each other for changes, and what they have agreed to deliver.",
    "org-culture": "Check that leadership sponsors operations, people can escalate and act when outcomes are at risk, communication is clear, and teams are skilled and staffed.",
    "observability": "Instrument the workload with business KPIs, application, user-experience and dependency telemetry, and tracing, so its state can be understood from the outside.",
    "dev-integ": "Reduce defects and speed up safe delivery with version control, testing, configuration and build management, patching, shared standards and automation.",
    "mit-deploy-risks": "Limit the harm a bad deployment can do: plan the way back, test deployments, roll out gradually and roll back automatically.",
    "ready-to-support": "Confirm before launch that people, procedures and support arrangements are in place to run the workload in production.",
    "workload-observability": "Use the collected metrics, logs and traces: analyse them, alert on what matters and show health on dashboards.",
    "operations-health": "Measure how well operations work, share status and trends, and use reviews to decide what to improve.",
    "event-response": "Handle events, incidents and problems with defined processes, priorities by business impact, escalation, communication and automation.",
    "evolve-ops": "Improve operations continuously through post-incident analysis, feedback loops, knowledge sharing and time reserved for improvement.",
    "securely-operate": "Set up the foundations of secure operation: account separation, protected root users, control objectives, threat awareness and automated controls.",
    "identities": "Manage how people and machines authenticate: strong sign-in, temporary credentials, protected secrets and a central identity provider.",
    "permissions": "Grant and maintain only the access that is needed, with guardrails, emergency access, lifecycle management and controlled sharing.",
    "detect-investigate-events": "Capture security-relevant logs and findings centrally, correlate them and act on non-compliant resources.",
    "network-protection": "Protect network resources with layered networks, restricted traffic, inspection and automated protection.",
    "protect-compute": "Protect compute with vulnerability management, hardened images, software integrity checks, reduced manual access and automation.",
    "data-classification": "Know what data the workload holds and how sensitive it is, and let that classification drive protection and lifecycle.",
    "protect-data-rest": "Protect stored data with managed keys, enforced encryption, access control and automated checks.",
    "protect-data-transit": "Protect data moving between components and users with managed certificates, enforced encryption and authenticated connections.",
    "incident-response": "Prepare for security incidents with people, plans, forensic capability, playbooks, access, tools and practice.",
    "application-security": "Build security into the software lifecycle with training, automated testing, reviews, penetration tests, controlled dependencies and secure pipelines.",
    "manage-service-limits": "Know and manage service quotas and fixed constraints in every account and Region, with headroom for failover.",
    "planning-network-topology": "Design network connectivity for availability and growth: redundant links, room in address ranges and a manageable topology.",
    "service-architecture": "Segment the workload into services around business domains with clear API contracts.",
    "prevent-interaction-failure": "Design interactions between components so failures are less likely: loose coupling, idempotency and constant work.",
    "mitigate-interaction-failure": "Design interactions so failures that do happen stay contained: degradation, throttling, bounded retries, timeouts and emergency levers.",
    "monitor-aws-resources": "Monitor every component, turn data into metrics and alarms, automate responses and keep monitoring under review.",
    "adapt-to-changes": "Adapt capacity to demand automatically, both after impairment and ahead of need, and verify it with load tests.",
    "tracking-change-management": "Make changes safely with runbooks, tests in the pipeline, immutable infrastructure and automated deployment.",
    "backing-up-data": "Back up all data that matters, automatically and securely, and prove the backups restore.",
    "fault-isolation": "Contain failures by spreading the workload over locations, isolating single-location parts and using bulkheads.",
    "withstand-component-failures": "Detect component failures, fail over, heal automatically and stay stable without relying on control planes.",
    "testing-resiliency": "Test reliability with playbooks, post-incident analysis, functional and load tests, chaos experiments and game days.",
    "planning-for-recovery": "Plan disaster recovery from defined objectives, choose a strategy that meets them, test it and keep the recovery site current.",
    "performing-architecture": "Choose cloud resources and architecture patterns from knowledge of the options, trade-offs, cost, references, benchmarks and data.",
    "compute-hardware": "Select compute that fits the workload, measure it, right-size it, scale it dynamically and use accelerators where they help.",
    "data-management": "Store and access data with purpose-built stores, tuned configuration, measured performance, query strategies and caching.",
    "networking": "Select and configure networking for performance: understand its impact, use the right features, connectivity, load balancing, protocols and placement.",
    "process-culture": "Support performance with KPIs, focused monitoring, an improvement process, load tests, automation and current services.",
    "cloud-financial-management": "Put cloud financial management in place: ownership, finance partnership, budgets, cost awareness and monitoring.",
    "govern-usage": "Govern usage with policies, goals, an account structure, roles, controls and lifecycle tracking.",
    "monitor-usage": "Monitor cost and usage with detailed data, organisation information, attribution, metrics and configured tools.",
    "decomissioning-resources": "Track resources over their life and retire them, with a process, automation and enforced data retention.",
    "select-service": "Evaluate cost when choosing services: agreed requirements, analysis of every component, licensing and cost over time.",
    "type-size-number-resources": "Meet cost targets when choosing resource type, size and number through modelling, data, automation and sharing.",
    "pricing-model": "Reduce cost with the right pricing models, Regions and third-party terms across all components and accounts.",
    "data-transfer": "Model and reduce data transfer charges through component choice and placement and cost-saving services.",
    "manage-demand-resources": "Match supply to demand: analyse demand, buffer or throttle it, and supply resources dynamically.",
    "evaluate-new-services": "Review the workload regularly for new services and features that lower cost.",
    "evaluate-cost-effort": "Account for the cost of operational effort and automate repetitive work.",
    "sus_region": "Consider sustainability goals, such as the carbon intensity of the grid, alongside business needs when choosing Regions.",
    "sus_user": "Align provisioned resources with real demand: scale dynamically, revisit service levels, remove unused assets and smooth demand.",
    "sus_software": "Use software and architecture patterns that keep resources busy and avoid waste in code, components and data handling.",
    "sus_data": "Use data management policies to keep only needed data, on fitting storage, with little duplication and movement.",
    "sus_hardware": "Use the least and most efficient hardware that meets needs, favouring managed services and well-used accelerators.",
    "sus_dev": "Make development and test processes support sustainability: fast improvements, current software, busy build environments and device farms.",
}


def build(
    ids_path: Path, guidance_dir: Path = LENS_DIR / "guidance"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(lens_json, meta_json)`` for the ids file and the guidance notes."""
    ids = json.loads(ids_path.read_text(encoding="utf-8"))
    notes: dict[str, dict[str, Any]] = {}
    for path in sorted(guidance_dir.glob("*.yaml")):
        notes.update(yaml.safe_load(path.read_text(encoding="utf-8"))["notes"])
    pillars = []
    meta: dict[str, Any] = {
        "alias": ids["lens_alias"],
        "version": VERSION,
        "source": (
            "ids, numbers, titles and risks: framework-lens-ids.json (WA Tool lens "
            f"'wellarchitected', framework version {VERSION}); all descriptive text is our own"
        ),
        "questions": {},
        "choices": {},
    }
    for pillar in ids["pillars"]:
        questions = []
        for q in pillar["questions"]:
            meta["questions"][q["id"]] = {"number": q["number"]}
            choices = []
            high: list[str] = []
            for c in q["choices"]:
                risk, bp_id = c.get("risk"), c.get("bp_id")
                if risk is None:
                    risk, bp_id = RISK_FALLBACK[c["id"]]
                meta["choices"][c["id"]] = {"risk": risk, "bp_id": bp_id}
                if risk == "HIGH":
                    high.append(c["id"])
                note = notes[c["id"]]
                page = DOC_PAGE.get(c["id"], c["id"])
                url = f"{DOCS}/latest/framework/{page}.html"
                if c["id"] in RISK_FALLBACK:
                    url = f"{DOCS}/{VERSION}/framework/{page}.html"
                choices.append(
                    {
                        "id": c["id"],
                        "title": c["title"],
                        "helpfulResource": {"displayText": note["good"], "url": url},
                        "improvementPlan": {
                            "displayText": "Common gaps to close: "
                            + " ".join(g.rstrip(".") + "." for g in note["gaps"]),
                            "url": url,
                        },
                    }
                )
            practices = [c["id"] for c in q["choices"]]
            choices.append(
                {
                    "id": NONE_CHOICES[q["id"]],
                    "title": "None of these",
                    "helpfulResource": {
                        "displayText": "Choose this when the workload follows none of the best "
                        "practices of this question."
                    },
                }
            )
            rules = [{"condition": all_of(practices), "risk": "NO_RISK"}]
            if not high:
                rules.append({"condition": any_of(practices), "risk": "MEDIUM_RISK"})
            elif len(high) < len(practices):
                rules.append({"condition": all_of(high), "risk": "MEDIUM_RISK"})
            rules.append({"condition": "default", "risk": "HIGH_RISK"})
            questions.append(
                {
                    "id": q["id"],
                    "title": q["title"],
                    "description": QUESTION_DESCRIPTIONS[q["id"]],
                    "choices": choices,
                    "riskRules": rules,
                }
            )
        name = PILLAR_NAMES.get(pillar["id"], pillar["name"])
        pillars.append({"id": pillar["id"], "name": name, "questions": questions})
    lens = {
        "schemaVersion": "2021-11-01",
        "name": LENS_NAME,
        "description": LENS_DESCRIPTION,
        "pillars": pillars,
    }
    return lens, meta


def dumps(data: dict[str, Any]) -> str:
    """Serialise as the committed files are: 1-space indent, UTF-8, trailing newline."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: write ``lens.json`` and ``lens.meta.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=Path, default=DEFAULT_IDS, help="framework-lens-ids.json")
    parser.add_argument("--out", type=Path, default=LENS_DIR, help="output directory")
    args = parser.parse_args(argv)
    if not args.ids.is_file():
        print(f"error: ids file not found: {args.ids}", file=sys.stderr)
        return 1
    lens, meta = build(args.ids)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lens.json").write_text(dumps(lens), encoding="utf-8")
    (args.out / "lens.meta.json").write_text(dumps(meta), encoding="utf-8")
    count = sum(len(q["choices"]) for p in lens["pillars"] for q in p["questions"])
    print(f"wrote {args.out / 'lens.json'} ({count} choices) and lens.meta.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
