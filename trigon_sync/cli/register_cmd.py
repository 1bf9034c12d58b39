"""``trigon-sync register``: fetch the Business Register file and look codes up in it.

``update`` downloads the register's daily open-data file into the home directory and
builds its index straight away, so the next ``import-clients`` starts fast; ``check``
answers "what would the import say about this code?" for one code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from trigon_sync.business_register.file_format import resolve_register_file
from trigon_sync.business_register.index import RegisterIndex
from trigon_sync.business_register.source import (
    ENV_URL,
    ProgressCallback,
    download_client,
    download_register,
    register_url,
)
from trigon_sync.cli import output
from trigon_sync.errors import UsageError
from trigon_sync.registration_codes import has_valid_check_digit, normalise_code
from trigon_sync.store.config_file import load_config

app = typer.Typer(
    help="The Estonian Business Register file that registration codes are checked against.",
    no_args_is_help=True,
    epilog="Example: trigon-sync register update",
)


@contextmanager
def progress_bar() -> Iterator[ProgressCallback | None]:
    """A download bar on a terminal; nothing at all under cron."""
    if not output.stdout.is_terminal:
        yield None
        return
    columns = (
        TextColumn("Business Register"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=output.stdout, transient=True) as progress:
        task = progress.add_task("download", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


@app.command("update", epilog="Example: trigon-sync register update")
def update(
    url: str | None = typer.Option(
        None,
        "--url",
        help=f"Where to download the register's basic-data zip from (default: ${ENV_URL}, "
        "else [register] url in config, else the register's own address).",
    ),
) -> None:
    """Download the current Business Register file into the home directory and index it."""
    url = url or register_url(load_config().register.url)
    if not url.startswith(("https://", "http://")):
        raise UsageError(f"--url {url!r} is not an http(s) URL")
    with (
        download_client() as client,
        progress_bar() as on_progress,
    ):
        path = download_register(url, client=client, on_progress=on_progress)
    index = RegisterIndex.load(path)
    output.stdout.print(
        f"Business Register file saved to {escape(str(path))} ({len(index):,} companies)."
    )


@app.command("check", epilog="Example: trigon-sync register check 10137319")
def check(
    code: str = typer.Argument(..., help="An Estonian registration code (8 digits)."),
    register: Path | None = typer.Option(
        None,
        "--register",
        metavar="FILE",
        help="The register zip to use (default: [register] file in config, "
        "else the file `register update` downloaded).",
        dir_okay=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show how the import would judge one registration code."""
    normalised = normalise_code(code)
    if normalised is None:
        raise UsageError(
            f"{code!r} is not a registration code",
            hint="give the 8-digit Estonian registration code",
        )
    source = resolve_register_file(register, load_config().register.file)
    entry = RegisterIndex.load(source).lookup(normalised) if source is not None else None
    valid = has_valid_check_digit(normalised)
    if as_json:
        output.print_json(
            {
                "registration_code": normalised,
                "check_digit_valid": valid,
                "register_checked": source is not None,
                "in_register": entry is not None,
                "name": entry.name if entry else None,
                "status": entry.status if entry else None,
            }
        )
        return
    console = output.stdout
    mark = "[green]✓[/]" if valid else "[red]✗[/]"
    console.print(f"{normalised}: check digit {mark}")
    if source is None:
        console.print("Business Register: not checked (no file; run `trigon-sync register update`)")
    elif entry is None:
        console.print(f"Business Register: [red]✗[/] not in {escape(source.name)}")
    else:
        console.print(f"Business Register: [green]✓[/] {escape(entry.name)} ({entry.status_text})")
