"""Rendering of investigations and evaluations for the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from agent.evaluation import CaseResult, Scores
from agent.models import Investigation
from tools.c4 import ArchitectureModel
from tools.markup import terminal as escape


def _name(arch: ArchitectureModel | None, component: str) -> str:
    if arch and component in arch.elements:
        return arch.elements[component].name
    return component


def render_investigation(
    console: Console, inv: Investigation, arch: ArchitectureModel | None = None
) -> None:
    """Print the ranked hypotheses, each with its cited evidence, then the notes."""
    answer = inv.answer
    evidence = {e.id: e for e in inv.evidence}
    console.print(f"[bold]Question:[/bold] {escape(inv.question)}")
    console.print(
        f"[bold]Window:[/bold] {inv.window.label()}  [bold]baseline:[/bold] {inv.baseline.label()}"
        f"  [dim]({inv.provider}, {len(inv.steps)} steps, {len(inv.evidence)} evidence, "
        f"{inv.seconds:.1f} s)[/dim]"
    )
    if answer is None:
        console.print("[red]No answer.[/red]")
        return
    if answer.partial:
        console.print("[yellow]Partial answer: the investigation did not finish.[/yellow]")
    console.print(f"\n[bold]{escape(answer.summary)}[/bold]\n")
    for h in answer.hypotheses:
        console.print(
            f"[bold cyan]#{h.rank}[/bold cyan] [bold]{escape(_name(arch, h.component))}[/bold]"
            f"  {h.fault_category}  confidence {h.confidence:.2f}"
        )
        console.print(f"   {escape(h.statement)}", soft_wrap=True)
        if h.propagation_path:
            console.print("   path: " + escape(" -> ".join(h.propagation_path)))
        for label, ids in (
            ("supports", h.supporting_evidence),
            ("contradicts", h.contradicting_evidence),
        ):
            for eid in ids:
                ev = evidence.get(eid)
                if ev:
                    console.print(
                        f"   [green]{eid}[/green] {label}: {escape(ev.summary)}", soft_wrap=True
                    )
        for check in h.next_checks:
            console.print(f"   next: {escape(check)}", soft_wrap=True)
        console.print()
    for note in inv.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def render_case(console: Console, result: CaseResult) -> None:
    """One line per evaluated case."""
    mark = (
        "[green]hit@1[/green]"
        if result.hit(1)
        else (f"[yellow]rank {result.rank}[/yellow]" if result.rank else "[red]miss[/red]")
    )
    detail = escape(result.error) if result.error else escape(", ".join(result.ranking[:3]))
    console.print(
        f"{mark:>22} {escape(result.case)}  truth={escape(result.truth)}  "
        f"{result.seconds:.1f}s  top: {detail}",
        soft_wrap=True,
    )


def render_scores(console: Console, scores: list[Scores]) -> None:
    """The AC@1 / AC@3 / Avg@5 table."""
    table = Table(title="RCAEval metrics (component level)")
    for column in ("group", "cases", "AC@1", "AC@3", "Avg@5", "median s/case"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for s in scores:
        table.add_row(
            s.group,
            str(s.cases),
            f"{s.ac1:.3f}",
            f"{s.ac3:.3f}",
            f"{s.avg5:.3f}",
            f"{s.median_seconds:.2f}",
        )
    console.print(table)
