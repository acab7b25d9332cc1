"""`intake-service users ...`: staff accounts from the command line."""

from __future__ import annotations

import sys

import click

from intake_service.cli import common


@click.group()
def users() -> None:
    """Staff accounts (admin, clinician, coordinator)."""


CLI_ACTOR_EMAIL = "command-line"


def _password() -> str:
    # A person at a terminal is asked twice; a script pipes the password on stdin.
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@users.command("create")
@click.option("--email", required=True, help="The person's email address (their sign-in).")
@click.option("--role", required=True, type=click.Choice(["admin", "clinician", "coordinator"]))
@click.option("--name", default="", help="The name shown to colleagues.")
def users_create(email: str, role: str, name: str) -> None:
    """Create a staff account; the password is asked for, or read from stdin."""
    from intake_service.domain.accounts import users as accounts
    from intake_service.domain.compliance.audit import Actor
    from intake_service.security.passwords import WeakPassword

    password = _password()
    database = common.database()
    try:
        with database.transaction() as session:
            user = accounts.create_user(
                session, email, role, password, Actor(None, CLI_ACTOR_EMAIL), name
            )
            address = user.email
    except (accounts.AccountError, WeakPassword) as error:
        raise click.ClickException(str(error)) from None
    finally:
        database.dispose()
    click.echo(f"created {role} account {address}")


@users.command("list")
def users_list() -> None:
    """List staff accounts."""
    from intake_service.domain.accounts import users as accounts

    database = common.database()
    try:
        with database.session() as session:
            rows = accounts.list_users(session)
            lines = [
                f"{u.email:<40} {u.role:<12} {'active' if u.active else 'disabled':<9} "
                f"last sign-in {u.last_login_at:%Y-%m-%d %H:%M}"
                if u.last_login_at
                else f"{u.email:<40} {u.role:<12} {'active' if u.active else 'disabled':<9} "
                "never signed in"
                for u in rows
            ]
    finally:
        database.dispose()
    click.echo("\n".join(lines) if lines else "no staff accounts yet")


@users.command("disable")
@click.option("--email", required=True)
def users_disable(email: str) -> None:
    """Disable an account; its open sessions end at once."""
    from intake_service.domain.accounts import users as accounts
    from intake_service.domain.compliance.audit import Actor

    database = common.database()
    try:
        with database.transaction() as session:
            accounts.disable_user(session, email, Actor(None, CLI_ACTOR_EMAIL))
    except accounts.UnknownUser:
        raise click.ClickException(f"no account has the email {email}") from None
    finally:
        database.dispose()
    click.echo(f"disabled {email.strip().lower()}")


@users.command("revoke-sessions")
@click.option("--email", required=True)
def users_revoke_sessions(email: str) -> None:
    """End every open session of an account at once (a lost laptop, a copied cookie)."""
    from intake_service.domain.accounts import users as accounts
    from intake_service.domain.compliance.audit import Actor

    database = common.database()
    try:
        with database.transaction() as session:
            accounts.revoke_sessions(session, email, Actor(None, CLI_ACTOR_EMAIL))
    except accounts.UnknownUser:
        raise click.ClickException(f"no account has the email {email}") from None
    finally:
        database.dispose()
    click.echo(f"ended every session of {email.strip().lower()}")


@users.command("remove-second-factor")
@click.option("--email", required=True)
def users_remove_second_factor(email: str) -> None:
    """Turn an account's second factor off (a lost phone); its sessions end too."""
    from intake_service.db import utcnow
    from intake_service.domain.accounts import second_factor
    from intake_service.domain.accounts import users as accounts
    from intake_service.domain.compliance.audit import Actor

    database = common.database()
    try:
        with database.transaction() as session:
            user = accounts.find_by_email(session, email)
            if user is None:
                raise click.ClickException(f"no account has the email {email}")
            second_factor.remove(session, user.id, Actor(None, CLI_ACTOR_EMAIL), utcnow())
    finally:
        database.dispose()
    click.echo(f"removed the second factor of {email.strip().lower()}; it signs in with a password")
