"""Rendering of investigations and evaluations for the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from agent.evaluation import CaseResult, Scores
from agent.view import AnswerView
from tools.markup import terminal as escape

COMPACT_GAPS = 3  # gaps shown without --verbose


def render_investigation(console: Console, view: AnswerView, *, verbose: bool = False) -> None:
    """Print the ranked hypotheses of an :class:`AnswerView`, then gaps and notes.

    Compact (default): each hypothesis with its deciding evidence lines (``agent.view.deciding``);
    ``verbose``: every supporting and contradicting line."""
    console.print(f"[bold]Question:[/bold] {escape(view.question)}")
    console.print(
        f"[bold]Window:[/bold] {view.window}  [bold]baseline:[/bold] {view.baseline}"
        f"  [dim]({escape(view.provider)}, {view.steps} steps, {view.evidence_count} evidence, "
        f"{view.seconds:.1f} s)[/dim]"
    )
    if not view.answered:
        console.print("[red]No answer.[/red]")
        return
    if view.partial:
        console.print("[yellow]Partial answer: the investigation did not finish.[/yellow]")
    console.print(f"\n[bold]{escape(view.summary)}[/bold]\n")
    for h in view.hypotheses:
        console.print(
            f"[bold cyan]#{h.rank}[/bold cyan] [bold]{escape(h.component)}[/bold]"
            f"  {h.fault_category}  confidence {h.confidence:.2f}"
        )
        console.print(f"   {escape(h.statement)}", soft_wrap=True)
        if h.propagation_path:
            console.print("   path: " + escape(" -> ".join(h.propagation_path)))
        against = {e.id for e in h.contradicting}
        if verbose:
            lines = [("supports", e) for e in h.supporting]
            lines += [("contradicts", e) for e in h.contradicting]
        else:
            lines = [("contradicts" if e.id in against else "supports", e) for e in h.deciding]
        for label, ev in lines:
            console.print(
                f"   [green]{ev.id}[/green] {label}: {escape(ev.summary)}", soft_wrap=True
            )
        hidden = len(h.supporting) + len(h.contradicting) - len(lines)
        if hidden > 0:
            console.print(f"   [dim]+{hidden} more evidence lines (--verbose)[/dim]")
        for check in h.next_checks:
            console.print(f"   next: {escape(check)}", soft_wrap=True)
        console.print()
    shown = view.gaps if verbose else view.gaps[:COMPACT_GAPS]
    for gap in shown:
        console.print(f"[yellow]gap:[/yellow] {escape(gap.tool)}: {escape(gap.reason)}")
    if len(view.gaps) > len(shown):
        console.print(f"[dim]+{len(view.gaps) - len(shown)} more gaps (--verbose)[/dim]")
    for note in view.notes:
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
