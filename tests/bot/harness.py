"""Drive the real bot offline: real cogs, real CommandTree, fake wire.

Everything that touches discord.py internals lives in this one module (pinned discord.py==2.7.1):
- interactions are built from INTERACTION_CREATE payloads and pushed through ``tree._call``
  (slash commands, autocomplete) or ``ConnectionState.parse_interaction_create`` (buttons);
- what would go to Discord's interaction webhooks is recorded by a swapped webhook adapter;
- role grants, DMs and channel messages are recorded by patching ``bot.http``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import types
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import AsyncMock

import discord
from discord.webhook import async_ as webhook_async

from bot import create_bot
from bot.client import CodesBot
from shared.config import Settings

APP_ID = 900_000_000_000_000_001
BOT_USER_ID = 900_000_000_000_000_002
GUILD_ID = 800_000_000_000_000_001
OTHER_GUILD_ID = 800_000_000_000_000_002
CHANNEL_ID = 800_000_000_000_000_010
LOG_CHANNEL_ID = 800_000_000_000_000_011
OWNER_ID = 700_000_000_000_000_001

ROLE_BOT = 810_000_000_000_000_001
ROLE_REWARD = 810_000_000_000_000_002
ROLE_MANAGER = 810_000_000_000_000_003
ROLE_ABOVE_BOT = 810_000_000_000_000_004
ROLE_MANAGED = 810_000_000_000_000_005

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
MANAGE_ROLES = 1 << 28
EVERYONE = SEND_MESSAGES

DMS_CLOSED = 50007
TIMESTAMP = "2025-01-01T00:00:00+00:00"

_OPTION_TYPES = {"subcommand": 1, "string": 3, "integer": 4, "user": 6, "channel": 7, "role": 8}


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": bot,
    }


def role_payload(
    role_id: int, name: str, position: int, *, permissions: int = 0, managed: bool = False
) -> dict:
    payload = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "hoist": False,
        "position": position,
        "permissions": str(permissions),
        "managed": managed,
        "mentionable": False,
        "flags": 0,
    }
    if managed:
        payload["tags"] = {"bot_id": "123"}
    return payload


def channel_payload(channel_id: int, name: str) -> dict:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
    }


@dataclass(frozen=True)
class Person:
    """A server member who runs commands: their id, name, roles and permissions in the channel."""

    id: int
    name: str
    roles: tuple[int, ...] = ()
    permissions: int = EVERYONE

    def member_payload(self) -> dict:
        return {
            "user": user_payload(self.id, self.name),
            "roles": [str(r) for r in self.roles],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "permissions": str(self.permissions),
        }


MANAGER = Person(OWNER_ID, "owner", permissions=EVERYONE | MANAGE_GUILD)
ROLE_MANAGER_MEMBER = Person(700_000_000_000_000_002, "helper", roles=(ROLE_MANAGER,))
MEMBER = Person(700_000_000_000_000_003, "alice")
OTHER_MEMBER = Person(700_000_000_000_000_004, "bob")


@dataclass
class WireCall:
    """One request to Discord's interaction webhooks."""

    method: str
    url: str
    body: dict | None
    files: dict[str, bytes] = field(default_factory=dict)
    # The id of the message this call created or edited (followups and edits).
    message_id: int | None = None

    @property
    def kind(self) -> str:
        if self.url.endswith("/callback"):
            return {
                1: "pong",
                4: "message",
                5: "defer",
                6: "defer_update",
                7: "update",
                8: "autocomplete",
            }.get(self.body["type"], str(self.body["type"]))
        return {"POST": "followup", "PATCH": "edit", "DELETE": "delete"}[self.method]

    @property
    def data(self) -> dict:
        """The message fields, wherever this kind of call carries them."""
        if self.url.endswith("/callback"):
            return self.body.get("data") or {}
        return self.body or {}

    @property
    def content(self) -> str:
        return self.data.get("content") or ""

    @property
    def embeds(self) -> list[dict]:
        return self.data.get("embeds") or []

    @property
    def text(self) -> str:
        """Content and every embed's text, to assert on what a person would read."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
            parts.append(embed.get("footer", {}).get("text", ""))
        return "\n".join(part for part in parts if part)

    @property
    def ephemeral(self) -> bool:
        return bool(self.data.get("flags", 0) & 64)

    @property
    def buttons(self) -> dict[str, dict]:
        """Buttons by label."""
        return {
            button["label"]: button
            for row in self.data.get("components") or []
            for button in row.get("components", [])
            if button.get("type") == 2
        }


class RecordingAdapter(webhook_async.AsyncWebhookAdapter):
    """Records interaction responses, followups and edits, and answers as Discord would."""

    def __init__(self, harness: Harness):
        super().__init__()
        self.harness = harness

    async def request(self, route, session, *, payload=None, multipart=None, files=None, **kwargs):
        body = payload
        if multipart:
            body = json.loads(next(part["value"] for part in multipart if part["name"] == "payload_json"))
        recorded = {}
        for file in files or []:
            recorded[file.filename] = file.fp.read()
            file.fp.seek(0)
        call = WireCall(route.method, route.url, body, recorded)
        self.harness.wire.append(call)
        if call.url.endswith("/callback"):
            return {
                "interaction": {
                    "id": str(route.webhook_id),
                    "type": 2,
                    "response_message_ephemeral": call.ephemeral,
                }
            }
        if call.method == "DELETE":
            return None
        if call.method == "PATCH" and not call.url.endswith("@original"):
            call.message_id = int(call.url.rsplit("/", 1)[1])
        else:
            call.message_id = next(self.harness.ids)
        return self.harness.message_payload(call.message_id, call.data)


class Harness:
    """A bot with the real cogs on the test database, a cached guild, and a recorded wire."""

    def __init__(self, session_factory, *, settings: Settings | None = None):
        self.session_factory = session_factory
        self.settings = settings or Settings(database_url="sqlite://")
        self.ids = itertools.count(1_000_000)
        self.wire: list[WireCall] = []
        self.role_changes: list[tuple[str, int, int, int]] = []
        self.channel_messages: list[tuple[int, dict]] = []
        self.dms: list[tuple[int, dict]] = []
        self.dms_closed: set[int] = set()
        self.forbidden_channels: set[int] = set()
        self.failing_role_grants = False
        self._dm_channels: dict[int, int] = {}
        self.bot_permissions = MANAGE_ROLES | SEND_MESSAGES
        self.bot: CodesBot

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Harness:
        webhook_async.async_context.set(RecordingAdapter(self))
        self.bot = create_bot(self.settings, session_factory=self.session_factory)
        self.bot.dm_throttle.spacing = 0
        await self.bot.__aenter__()
        await self.bot.setup_hook()
        state = self.bot._connection
        # What READY and GUILD_CREATE would have cached.
        state.user = discord.ClientUser(state=state, data=user_payload(BOT_USER_ID, "codes", bot=True))
        state.application_id = APP_ID
        self.reload_guild()
        self._patch_http()
        return self

    def reload_guild(self, *, bot_permissions: int = MANAGE_ROLES | SEND_MESSAGES) -> discord.Guild:
        """Cache the server as GUILD_CREATE would; ``bot_permissions`` are the bot role's."""
        self.bot_permissions = bot_permissions
        return self.bot._connection._add_guild_from_data(self.guild_payload())

    async def __aexit__(self, *exc_info) -> None:
        await self.bot.close()

    def guild_payload(self) -> dict:
        roles = [
            role_payload(GUILD_ID, "@everyone", 0, permissions=EVERYONE),
            role_payload(ROLE_MANAGED, "Server Booster", 1, managed=True),
            role_payload(ROLE_REWARD, "Supporter", 2),
            role_payload(ROLE_MANAGER, "Code Managers", 3),
            role_payload(ROLE_BOT, "codes", 5, permissions=self.bot_permissions, managed=True),
            role_payload(ROLE_ABOVE_BOT, "Moderators", 9),
        ]
        bot_member = {
            "user": user_payload(BOT_USER_ID, "codes", bot=True),
            "roles": [str(ROLE_BOT)],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        return {
            "id": str(GUILD_ID),
            "name": "Test Server",
            "owner_id": str(OWNER_ID),
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "member_count": 3,
            "large": False,
            "members": [bot_member],
            "channels": [
                channel_payload(CHANNEL_ID, "general"),
                channel_payload(LOG_CHANNEL_ID, "codes-log"),
            ],
            "threads": [],
            "voice_states": [],
            "presences": [],
        }

    def role(self, role_id: int) -> dict:
        return next(r for r in self.guild_payload()["roles"] if int(r["id"]) == role_id)

    def message_payload(self, message_id: int, data: dict, *, channel_id: int = CHANNEL_ID) -> dict:
        return {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": 0,
            "content": data.get("content") or "",
            "author": user_payload(BOT_USER_ID, "codes", bot=True),
            "embeds": data.get("embeds") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "flags": data.get("flags") or 0,
            "components": data.get("components") or [],
            "application_id": str(APP_ID),
            "webhook_id": str(APP_ID),
        }

    # --- bot.http: roles, DMs, channel messages ---------------------------------------------

    def _patch_http(self) -> None:
        http = self.bot.http

        async def add_role(guild_id, user_id, role_id, *, reason=None):
            if self.failing_role_grants:
                raise self.http_error(discord.Forbidden, 403, 50013, "Missing Permissions")
            self.role_changes.append(("add", int(guild_id), int(user_id), int(role_id)))

        async def remove_role(guild_id, user_id, role_id, *, reason=None):
            self.role_changes.append(("remove", int(guild_id), int(user_id), int(role_id)))

        async def start_private_message(user_id):
            channel_id = self._dm_channels.setdefault(int(user_id), next(self.ids))
            return {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "recipients": [user_payload(int(user_id), "someone")],
            }

        async def send_message(channel_id, *, params):
            channel_id = int(channel_id)
            dm_user = next((u for u, c in self._dm_channels.items() if c == channel_id), None)
            if dm_user is not None:
                if dm_user in self.dms_closed:
                    raise self.http_error(
                        discord.Forbidden, 403, DMS_CLOSED, "Cannot send messages to this user"
                    )
                self.dms.append((dm_user, params.payload))
            else:
                if channel_id in self.forbidden_channels:
                    raise self.http_error(discord.Forbidden, 403, 50001, "Missing Access")
                self.channel_messages.append((channel_id, params.payload))
            return self.message_payload(next(self.ids), params.payload, channel_id=channel_id)

        http.add_role = AsyncMock(side_effect=add_role)
        http.remove_role = AsyncMock(side_effect=remove_role)
        http.start_private_message = AsyncMock(side_effect=start_private_message)
        http.send_message = AsyncMock(side_effect=send_message)

    @staticmethod
    def http_error(kind: type[discord.HTTPException], status: int, code: int, message: str):
        response = types.SimpleNamespace(status=status, reason=message)
        return kind(response, {"code": code, "message": message})

    # --- interactions ----------------------------------------------------------------------

    def _interaction_payload(
        self,
        person: Person,
        kind: int,
        data: dict,
        *,
        guild_id: int | None,
        message: dict | None = None,
        app_permissions: int = MANAGE_ROLES,
    ) -> dict:
        interaction_id = next(self.ids)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"token-{interaction_id}",
            "version": 1,
            "data": data,
            "channel_id": str(CHANNEL_ID),
            "locale": "en-US",
            "app_permissions": str(app_permissions),
            "entitlements": [],
            "attachment_size_limit": 25 * 1024 * 1024,
        }
        if guild_id is not None:
            payload.update(
                guild_id=str(guild_id),
                guild_locale="en-US",
                member=person.member_payload(),
                channel=channel_payload(CHANNEL_ID, "general"),
                context=0,
                authorizing_integration_owners={"0": str(guild_id)},
            )
        else:
            payload.update(
                user=user_payload(person.id, person.name),
                context=1,
                channel={"id": str(CHANNEL_ID), "type": 1},
                authorizing_integration_owners={},
            )
        if message is not None:
            payload["message"] = message
        return payload

    def _command_data(self, path: str, options: dict[str, Any], focused: str | None) -> dict:
        names = path.split()
        command = self.bot.tree.get_command(names[0])
        for name in names[1:]:
            command = command.get_command(name)
        resolved: dict[str, dict] = {}
        leaf = []
        for name, value in options.items():
            parameter = next(p for p in command.parameters if p.display_name == name)
            option_type = parameter.type.value
            if option_type == _OPTION_TYPES["role"]:
                resolved.setdefault("roles", {})[str(value)] = self.role(value)
                value = str(value)
            elif option_type == _OPTION_TYPES["user"]:
                person: Person = value
                member = person.member_payload()
                resolved.setdefault("users", {})[str(person.id)] = member.pop("user")
                resolved.setdefault("members", {})[str(person.id)] = member
                value = str(person.id)
            elif option_type == _OPTION_TYPES["channel"]:
                resolved.setdefault("channels", {})[str(value)] = {
                    **channel_payload(value, "codes-log"),
                    "permissions": str(SEND_MESSAGES),
                }
                value = str(value)
            option = {"name": name, "type": option_type, "value": value}
            if name == focused:
                option["focused"] = True
            leaf.append(option)
        for name in reversed(names[1:]):
            leaf = [{"name": name, "type": _OPTION_TYPES["subcommand"], "options": leaf}]
        data = {"id": str(hash(names[0]) & 0xFFFFFFFF), "name": names[0], "type": 1, "options": leaf}
        if resolved:
            data["resolved"] = resolved
        return data

    async def invoke(
        self,
        path: str,
        person: Person,
        *,
        guild_id: int | None = GUILD_ID,
        app_permissions: int = MANAGE_ROLES,
        **options: Any,
    ) -> list[WireCall]:
        """Run ``/path`` as ``person``; what went over the wire meanwhile."""
        start = len(self.wire)
        payload = self._interaction_payload(
            person,
            2,
            self._command_data(path, options, None),
            guild_id=guild_id,
            app_permissions=app_permissions,
        )
        await self.bot.tree._call(discord.Interaction(data=payload, state=self.bot._connection))
        return self._calls_of(payload, start)

    def _calls_of(self, payload: dict, start: int) -> list[WireCall]:
        # Interactions may run concurrently: keep the calls made with this one's token.
        token = f"/{payload['token']}"
        return [call for call in self.wire[start:] if token in call.url]

    async def autocomplete(self, path: str, person: Person, focused: str, **options: Any) -> list[dict]:
        """The choices the bot offers for ``focused`` while ``person`` types."""
        start = len(self.wire)
        payload = self._interaction_payload(
            person, 4, self._command_data(path, options, focused), guild_id=GUILD_ID
        )
        await self.bot.tree._call(discord.Interaction(data=payload, state=self.bot._connection))
        calls = [call for call in self.wire[start:] if call.kind == "autocomplete"]
        assert len(calls) == 1, calls
        return calls[0].body["data"]["choices"]

    async def click(self, message: WireCall, label: str, person: Person) -> list[WireCall]:
        """Press the button ``label`` on the message that ``message`` sent, and wait for the callback."""
        start = len(self.wire)
        button = message.buttons[label]
        message_id = message.message_id
        data = {"custom_id": button["custom_id"], "component_type": 2}
        payload = self._interaction_payload(
            person, 3, data, guild_id=GUILD_ID, message=self.message_payload(message_id, message.data)
        )
        store = self.bot._connection._view_store
        self.bot._connection.parse_interaction_create(payload)
        await asyncio.gather(*list(store._ViewStore__tasks))
        return self._calls_of(payload, start)

    async def wait_for(self, predicate, *, timeout: float = 5.0) -> None:
        """Until ``predicate()`` holds: for what the bot does on its own (a view timing out)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)


def replies(calls: list[WireCall]) -> list[WireCall]:
    """The calls that carry something a person reads (not bare defers)."""
    return [call for call in calls if call.kind in ("message", "followup", "edit", "update")]


def last_text(calls: list[WireCall]) -> str:
    shown = replies(calls)
    assert shown, f"nothing was shown: {calls}"
    return shown[-1].text
