"""`intake-service triage`: the crisis-language detector measured on labelled examples."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_CRISIS_EXAMPLES = (
    Path(__file__).resolve().parents[2] / "tests" / "domain" / "triage" / "crisis_examples.toml"
)


@click.group()
def triage() -> None:
    """Triage rules: the crisis-language detector and screening."""


@triage.command("crisis-eval")
@click.option(
    "--examples",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CRISIS_EXAMPLES,
    show_default="the public set in tests/",
    help="A TOML file with `crisis` and `not_crisis` lists of messages.",
)
@click.option("--show", is_flag=True, help="List the missed messages and the false alarms.")
def crisis_eval(path: Path, show: bool) -> None:
    """Print the crisis detector's recall and precision on labelled example messages."""
    from intake_service.domain.triage import crisis_eval as evaluation

    try:
        crisis_messages, ordinary = evaluation.read_examples(path)
    except evaluation.InvalidExamples as error:
        raise click.ClickException(str(error)) from None
    result = evaluation.evaluate(crisis_messages, ordinary)
    click.echo(f"rules {result.version}: {len(crisis_messages)} crisis, {len(ordinary)} not")
    click.echo(f"recall    {result.recall:.2f}  (missed {result.false_negatives})")
    click.echo(f"precision {result.precision:.2f}  (false alarms {result.false_positives})")
    if show:
        for message in result.missed:
            click.echo(f"  missed:      {message}")
        for message in result.false_alarms:
            click.echo(f"  false alarm: {message}")
