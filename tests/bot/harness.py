"""Drive the real bot offline: real cogs, real CommandTree, fake wire.

Everything that touches discord.py internals lives in this one module (pinned discord.py==2.7.1):
- interactions are built from INTERACTION_CREATE payloads and pushed through ``tree._call``
  (slash commands, autocomplete) or ``ConnectionState.parse_interaction_create`` (buttons, modals);
- what would go to Discord's interaction webhooks is recorded by a swapped webhook adapter;
- role grants, DMs, channel messages and attachment downloads go through a patched ``bot.http``.

The fake wire answers like Discord: it refuses (400, 50035) any message beyond Discord's limits
(tests/bot/discord_limits.py) and any use of an interaction token more than 15 minutes old (on
``shared.clock``'s time; 401, 50027). A refused call fails the test when the harness closes,
unless the test says it expects one (``harness.expected_refusals``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
from shared.clock import to_naive_utc, utcnow
from shared.config import Settings
from tests.bot import discord_limits

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
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
MANAGE_ROLES = 1 << 28
EVERYONE = VIEW_CHANNEL | SEND_MESSAGES

DMS_CLOSED = 50007
TOKEN_LIFETIME = dt.timedelta(minutes=15)
TIMESTAMP = "2025-01-01T00:00:00+00:00"
ATTACHMENT_LIMIT = 25 * 1024 * 1024

_OPTION_TYPES = {
    "subcommand": 1,
    "string": 3,
    "integer": 4,
    "boolean": 5,
    "user": 6,
    "channel": 7,
    "role": 8,
    "attachment": 11,
}


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


def channel_payload(channel_id: int, name: str, *, kind: int = 0, private: bool = False) -> dict:
    """A channel; a ``private`` one hides itself from @everyone."""
    overwrites = []
    if private:
        overwrites.append({"id": str(GUILD_ID), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)})
    return {
        "id": str(channel_id),
        "type": kind,
        "guild_id": str(GUILD_ID),
        "name": name,
        "position": 0,
        "permission_overwrites": overwrites,
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


@dataclass(frozen=True)
class Channel:
    """A channel option's value when it is not the usual text channel (``kind``: Discord's type)."""

    id: int
    kind: int = 0


@dataclass(frozen=True)
class Upload:
    """An attachment option's value: a file the member uploads with the command."""

    filename: str
    data: bytes
    content_type: str = "text/plain"


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
                9: "modal",
            }.get(self.body["type"], str(self.body["type"]))
        return {"POST": "followup", "PATCH": "edit", "DELETE": "delete", "GET": "get"}[self.method]

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
        return buttons_of(self.data)

    @property
    def modal(self) -> dict:
        """The modal this callback opened: its custom id, title and inputs."""
        assert self.kind == "modal", self.kind
        return self.body["data"]


def buttons_of(data: dict) -> dict[str, dict]:
    """A message's buttons, by label."""
    return {
        button["label"]: button
        for row in data.get("components") or []
        for button in row.get("components", [])
        if button.get("type") == 2
    }


@dataclass
class ChannelMessage:
    """A message the bot posted in a channel (not an interaction answer)."""

    channel_id: int
    message_id: int
    data: dict
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def content(self) -> str:
        return self.data.get("content") or ""

    @property
    def buttons(self) -> dict[str, dict]:
        return buttons_of(self.data)


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
        self.harness.check_call(call)
        self.harness.wire.append(call)
        if call.method == "GET":
            return self.harness.message_payload(next(self.harness.ids), {})
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
    """A bot with the real cogs on the test database, a cached guild, and a recorded wire.

    ``Harness(..., shared=first)`` shares what Discord holds (the wire, channel messages, files)
    with ``first``: a second bot on the same server, as after a restart.
    """

    def __init__(self, session_factory, *, settings: Settings | None = None, shared: Harness | None = None):
        self.session_factory = session_factory
        self.settings = settings or Settings(database_url="sqlite://")
        # Interaction and message ids are snowflakes of the moment they are made, as Discord's.
        self.ids = (
            shared.ids if shared else itertools.count(discord.utils.time_snowflake(discord.utils.utcnow()))
        )
        self.wire: list[WireCall] = shared.wire if shared else []
        self.posts: list[ChannelMessage] = shared.posts if shared else []
        self.cdn: dict[str, bytes] = shared.cdn if shared else {}
        self.role_changes: list[tuple[str, int, int, int]] = []
        self.dms: list[tuple[int, dict]] = []
        self.dms_closed: set[int] = set()
        self.forbidden_channels: set[int] = set()
        self.failing_role_grants = False
        # Calls the fake wire refused, with why; a test that provokes some says how many.
        self.refused: list[tuple[str, list[str]]] = []
        self.expected_refusals = 0
        # Calls made with an interaction token past its 15 minutes (refused with 401).
        self.refused_tokens: list[WireCall] = []
        self._dm_channels: dict[int, int] = {}
        self.bot_permissions = MANAGE_ROLES | SEND_MESSAGES | EMBED_LINKS
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

    def reload_guild(
        self, *, bot_permissions: int = MANAGE_ROLES | SEND_MESSAGES | EMBED_LINKS
    ) -> discord.Guild:
        """Cache the server as GUILD_CREATE would; ``bot_permissions`` are the bot role's."""
        self.bot_permissions = bot_permissions
        return self.bot._connection._add_guild_from_data(self.guild_payload())

    def forget_guild(self) -> None:
        """Drop the server from the cache: as right after a (re)connect, before GUILD_CREATE."""
        state = self.bot._connection
        state._remove_guild(state._get_guild(GUILD_ID))

    async def __aexit__(self, *exc_info) -> None:
        await self.bot.close()
        if exc_info[0] is None:
            assert len(self.refused) == self.expected_refusals, f"Discord would refuse: {self.refused}"

    @property
    def channel_messages(self) -> list[tuple[int, dict]]:
        """Messages posted in channels, as (channel id, payload)."""
        return [(post.channel_id, post.data) for post in self.posts]

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
                channel_payload(LOG_CHANNEL_ID, "codes-log", private=True),
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

    # --- what Discord refuses --------------------------------------------------------------

    def refuse(self, what: str, problems: list[str]) -> None:
        self.refused.append((what, problems))
        raise self.http_error(discord.HTTPException, 400, 50035, "Invalid Form Body: " + "; ".join(problems))

    def check_call(self, call: WireCall) -> None:
        """Refuse an interaction call as Discord would: token too old, or a payload over a limit."""
        interaction_id = int(call.url.split("/token-")[1].split("/")[0])
        created = to_naive_utc(discord.utils.snowflake_time(interaction_id))
        if utcnow() > created + TOKEN_LIFETIME:
            self.refused_tokens.append(call)
            raise self.http_error(discord.HTTPException, 401, 50027, "Invalid Webhook Token")
        if call.method in ("GET", "DELETE"):
            return
        if call.kind == "autocomplete":
            problems = discord_limits.choice_problems(call.body["data"]["choices"])
        elif call.kind == "modal":
            problems = discord_limits.modal_problems(call.body["data"])
        else:
            problems = discord_limits.message_problems(call.data, call.files, size_limit=ATTACHMENT_LIMIT)
            if call.kind in ("message", "followup") and discord_limits.is_empty(call.data, call.files):
                problems.append("an empty message")
        if problems:
            self.refuse(f"{call.kind} {call.url}", problems)

    # --- bot.http: roles, DMs, channel messages, attachments --------------------------------

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

        def check_message(channel_id, params, *, new: bool) -> tuple[dict, dict[str, bytes]]:
            files = {file.filename: file.fp.read() for file in params.files or []}
            data = params.payload
            if data is None:
                data = json.loads(next(p["value"] for p in params.multipart if p["name"] == "payload_json"))
            problems = discord_limits.message_problems(data, files, size_limit=ATTACHMENT_LIMIT)
            if new and discord_limits.is_empty(data, files):
                problems.append("an empty message")
            if problems:
                self.refuse(f"message in {channel_id}", problems)
            return data, files

        async def send_message(channel_id, *, params):
            channel_id = int(channel_id)
            data, files = check_message(channel_id, params, new=True)
            dm_user = next((u for u, c in self._dm_channels.items() if c == channel_id), None)
            if dm_user is not None:
                if dm_user in self.dms_closed:
                    raise self.http_error(
                        discord.Forbidden, 403, DMS_CLOSED, "Cannot send messages to this user"
                    )
                self.dms.append((dm_user, data))
            else:
                if channel_id in self.forbidden_channels:
                    raise self.http_error(discord.Forbidden, 403, 50001, "Missing Access")
                self.posts.append(ChannelMessage(channel_id, next(self.ids), data, files))
                return self.message_payload(self.posts[-1].message_id, data, channel_id=channel_id)
            return self.message_payload(next(self.ids), data, channel_id=channel_id)

        async def edit_message(channel_id, message_id, *, params):
            channel_id, message_id = int(channel_id), int(message_id)
            data, files = check_message(channel_id, params, new=False)
            post = self.post(message_id)
            if post is None or channel_id in self.forbidden_channels:
                raise self.http_error(discord.NotFound, 404, 10008, "Unknown Message")
            post.data = {**post.data, **data}
            return self.message_payload(message_id, post.data, channel_id=channel_id)

        async def delete_message(channel_id, message_id, *, reason=None):
            post = self.post(int(message_id))
            if post is None:
                raise self.http_error(discord.NotFound, 404, 10008, "Unknown Message")
            self.posts.remove(post)

        async def get_from_cdn(url):
            if url not in self.cdn:
                raise self.http_error(discord.NotFound, 404, 0, "Not Found")
            return self.cdn[url]

        http.add_role = AsyncMock(side_effect=add_role)
        http.remove_role = AsyncMock(side_effect=remove_role)
        http.start_private_message = AsyncMock(side_effect=start_private_message)
        http.send_message = AsyncMock(side_effect=send_message)
        http.edit_message = AsyncMock(side_effect=edit_message)
        http.delete_message = AsyncMock(side_effect=delete_message)
        http.get_from_cdn = AsyncMock(side_effect=get_from_cdn)

    def post(self, message_id: int) -> ChannelMessage | None:
        return next((post for post in self.posts if post.message_id == message_id), None)

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
        locale: str = "en-US",
        guild_locale: str = "en-US",
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
            "locale": locale,
            "app_permissions": str(app_permissions),
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_LIMIT,
        }
        if guild_id is not None:
            payload.update(
                guild_id=str(guild_id),
                guild_locale=guild_locale,
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
                channel = value if isinstance(value, Channel) else Channel(value)
                resolved.setdefault("channels", {})[str(channel.id)] = {
                    **channel_payload(channel.id, "codes-log", kind=channel.kind),
                    "permissions": str(SEND_MESSAGES),
                }
                value = str(channel.id)
            elif option_type == _OPTION_TYPES["attachment"]:
                upload: Upload = value
                attachment_id = next(self.ids)
                url = f"https://cdn.discordapp.com/attachments/{CHANNEL_ID}/{attachment_id}/{upload.filename}"
                self.cdn[url] = upload.data
                resolved.setdefault("attachments", {})[str(attachment_id)] = {
                    "id": str(attachment_id),
                    "filename": upload.filename,
                    "size": len(upload.data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": upload.content_type,
                }
                value = str(attachment_id)
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
        locale: str = "en-US",
        guild_locale: str = "en-US",
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
            locale=locale,
            guild_locale=guild_locale,
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

    async def click(
        self,
        message: WireCall | ChannelMessage,
        label: str,
        person: Person,
        *,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> list[WireCall]:
        """Press the button ``label`` on a message the bot sent, and wait for the callback."""
        start = len(self.wire)
        button = message.buttons[label]
        channel_id = message.channel_id if isinstance(message, ChannelMessage) else CHANNEL_ID
        data = {"custom_id": button["custom_id"], "component_type": 2}
        payload = self._interaction_payload(
            person,
            3,
            data,
            guild_id=GUILD_ID,
            message=self.message_payload(message.message_id, message.data, channel_id=channel_id),
            locale=locale,
            guild_locale=guild_locale,
        )
        await self._dispatch(payload)
        return self._calls_of(payload, start)

    async def submit(
        self,
        modal: WireCall,
        person: Person,
        values: dict[str, str],
        *,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> list[WireCall]:
        """Fill in the modal ``modal`` opened (``values`` by input custom id) and submit it."""
        start = len(self.wire)
        form = modal.modal
        components = [
            {
                "type": 18,
                "component": {
                    "type": 4,
                    "custom_id": label["component"]["custom_id"],
                    "value": values.get(label["component"]["custom_id"], ""),
                },
            }
            for label in form["components"]
        ]
        payload = self._interaction_payload(
            person,
            5,
            {"custom_id": form["custom_id"], "components": components},
            guild_id=GUILD_ID,
            locale=locale,
            guild_locale=guild_locale,
        )
        await self._dispatch(payload)
        return self._calls_of(payload, start)

    async def _dispatch(self, payload: dict) -> None:
        store = self.bot._connection._view_store
        self.bot._connection.parse_interaction_create(payload)
        await asyncio.gather(*list(store._ViewStore__tasks))

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
