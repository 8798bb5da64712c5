"""Operator commands for Discord servers: ``flask --app wsgi guilds link|unlink|list``.

The operator's way to link a server without handing its managers the secret key: by project name.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from api.cli import fail
from api.extensions import db
from shared import guilds as guild_service
from shared.clock import isoformat_z
from shared.errors import DomainError

guilds = AppGroup("guilds", help="Link Discord servers to projects.")


class GuildId(click.ParamType):
    """A Discord server's id, with a sentence that says where to find it when it is not one."""

    name = "GUILD_ID"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        guild_id = guild_service.parse_guild_id(str(value))
        if guild_id is None:
            self.fail(f"GUILD_ID {guild_service.GUILD_ID_RULE}, not {value!r}.", param, ctx)
        return guild_id


GUILD_ID = GuildId()


@guilds.command("link")
@click.argument("guild_id", type=GUILD_ID)
@click.argument("project_name")
def link(guild_id: int, project_name: str) -> None:
    """Link the Discord server GUILD_ID to the project PROJECT_NAME (moving it if linked)."""
    try:
        linked = guild_service.link_guild_to_project(db.session, guild_id, project_name)
    except DomainError as exc:
        fail(exc)
    db.session.commit()
    click.echo(f"Linked Discord server {linked.guild_id} to project {linked.project_name!r}.")


@guilds.command("unlink")
@click.argument("guild_id", type=GUILD_ID)
def unlink(guild_id: int) -> None:
    """Unlink the Discord server GUILD_ID; its codes stay with the project."""
    try:
        guild_service.unlink_guild(db.session, guild_id)
    except DomainError as exc:
        fail(exc)
    db.session.commit()
    click.echo(f"Unlinked Discord server {guild_id}.")


@guilds.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_(as_json: bool) -> None:
    """The linked Discord servers, their projects and settings."""
    links = guild_service.list_guild_links(db.session)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "guildId": str(link.guild_id),
                        "project": link.project_name,
                        "managerRoleId": str(link.manager_role_id) if link.manager_role_id else None,
                        "logChannelId": str(link.log_channel_id) if link.log_channel_id else None,
                        "linkedAt": isoformat_z(link.linked_at),
                    }
                    for link in links
                ]
            )
        )
        return
    if not links:
        click.echo("No Discord servers are linked. Link one: flask --app wsgi guilds link GUILD_ID PROJECT")
        return
    click.echo(f"{'server':<20}  {'project':<24}  {'manager role':<20}  {'log channel':<20}  linked")
    for link in links:
        click.echo(
            f"{link.guild_id:<20}  {link.project_name:<24}  {link.manager_role_id or '-':<20}  "
            f"{link.log_channel_id or '-':<20}  {isoformat_z(link.linked_at)}"
        )
