"""Every message the bot sends goes through here, and always fits Discord's limits.

Discord refuses a whole message if any part is too long (400, "Invalid Form Body"), and a refused
reply leaves the member on "thinking…" for good. So before anything is sent, ``fit`` clips the
content, embeds and fields to Discord's limits, and whatever it had to cut goes, in full, into an
attached ``details.txt``; the visible text says so. Answers, followups and edits of interactions
(``send``, ``edit``) and channel or DM messages (``post``) all fit first; a send that still fails
is logged and, once, replaced by a short sentence.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import discord
from discord.utils import MISSING

from bot.i18n import t

log = logging.getLogger("bot")

CONTENT = 2000
EMBEDS = 10
EMBED_TOTAL = 6000
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
FILES = 10
OVERFLOW_FILE = "details.txt"
ELLIPSIS = "…"
# Discord codes for an interaction token that can no longer answer.
TOKEN_GONE = {10015, 10062, 50027}


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, at a line end when one is near."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    newline = cut.rfind("\n")
    if newline >= limit * 3 // 4:
        cut = cut[:newline]
    return cut.rstrip() + ELLIPSIS


@dataclass
class Fitted:
    content: str | None
    embeds: list[discord.Embed]
    files: list[discord.File]
    # The full text of everything that was cut, as it went into the attachment.
    overflow: list[str] = field(default_factory=list)


def fit(
    locale: discord.Locale | str | None,
    content: str | None = None,
    *,
    embeds: list[discord.Embed] = (),  # type: ignore[assignment]
    files: list[discord.File] = (),  # type: ignore[assignment]
    size_limit: int | None = None,
) -> Fitted:
    """The message, within every limit; what did not fit is in an attached text file."""
    overflow: list[str] = []
    embeds = [_fit_embed(embed, overflow) for embed in embeds]
    for extra in embeds[EMBEDS:]:
        overflow.append(_embed_text(extra))
    embeds = embeds[:EMBEDS]
    _fit_embed_total(embeds, overflow)

    files = list(files)
    if size_limit is not None and sum(_size(file) for file in files) > size_limit:
        overflow.insert(0, t(locale, "reply.files_too_large", names=", ".join(f.filename for f in files)))
        files = []

    notes: list[str] = []
    if content is not None and len(content) > CONTENT:
        overflow.insert(0, content)
    if overflow:
        if len(files) < FILES:
            files.append(_text_file("\n\n".join(overflow)))
            notes.append(t(locale, "reply.cut_to_file", name=OVERFLOW_FILE))
        else:
            notes.append(t(locale, "reply.cut"))
    if content is not None or notes:
        note = "\n".join(notes)
        room = CONTENT - (len(note) + 1 if note else 0)
        content = "\n".join(part for part in (clip(content or "", room), note) if part)
    files = files[:FILES]
    if not content and not embeds and not files:
        content = t(locale, "reply.empty")
    return Fitted(content, embeds, files, overflow)


def _size(file: discord.File) -> int:
    position = file.fp.tell()
    file.fp.seek(0, io.SEEK_END)
    size = file.fp.tell()
    file.fp.seek(position)
    return size


def _text_file(text: str) -> discord.File:
    return discord.File(io.BytesIO(text.encode()), filename=OVERFLOW_FILE)


def _embed_text(embed: discord.Embed) -> str:
    parts = [embed.title or "", embed.description or ""]
    parts += [f"{f.name}: {f.value}" for f in embed.fields]
    parts.append(embed.footer.text or "")
    return "\n".join(part for part in parts if part)


def _fit_embed(embed: discord.Embed, overflow: list[str]) -> discord.Embed:
    data = embed.to_dict()
    cut: list[str] = []

    def fitted(text: str | None, limit: int, label: str) -> str | None:
        if text is None or len(text) <= limit:
            return text
        cut.append(f"{label}:\n{text}")
        return clip(text, limit)

    data["title"] = fitted(data.get("title"), TITLE, "title")
    data["description"] = fitted(data.get("description"), DESCRIPTION, "description")
    if "footer" in data:
        data["footer"]["text"] = fitted(data["footer"].get("text"), FOOTER, "footer")
    if "author" in data:
        data["author"]["name"] = fitted(data["author"].get("name"), AUTHOR, "author")
    fields = data.get("fields", [])
    for extra in fields[FIELDS:]:
        cut.append(f"{extra['name']}:\n{extra['value']}")
    if fields:
        data["fields"] = [
            {
                **item,
                "name": fitted(item["name"], FIELD_NAME, "field") or "—",
                "value": fitted(item["value"], FIELD_VALUE, item["name"][:FIELD_NAME]) or "—",
            }
            for item in fields[:FIELDS]
        ]
    data = {key: value for key, value in data.items() if value is not None}
    overflow.extend(cut)
    return discord.Embed.from_dict(data)


def _fit_embed_total(embeds: list[discord.Embed], overflow: list[str]) -> None:
    """Discord counts every title, description, field, footer and author of a message: at most 6000."""
    while embeds and sum(len(embed) for embed in embeds) > EMBED_TOTAL:
        excess = sum(len(embed) for embed in embeds) - EMBED_TOTAL
        embed = max(embeds, key=len)
        if embed.description and len(embed.description) > excess + 100:
            overflow.append(f"description:\n{embed.description}")
            embed.description = clip(embed.description, len(embed.description) - excess)
        elif embed.fields:
            last = embed.fields[-1]
            overflow.append(f"{last.name}:\n{last.value}")
            embed.remove_field(len(embed.fields) - 1)
        else:
            overflow.append(_embed_text(embed))
            embeds.remove(embed)


# --- sending ------------------------------------------------------------------------------------


async def send(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    embeds: list[discord.Embed] = (),  # type: ignore[assignment]
    file: discord.File | None = None,
    files: list[discord.File] = (),  # type: ignore[assignment]
    view: discord.ui.View = MISSING,
    ephemeral: bool = True,
) -> discord.WebhookMessage | None:
    """Answer ``interaction`` (or follow up if it was answered or deferred); the message sent, when
    it was a followup. ``None`` when nothing could be delivered (logged)."""
    fitted = fit(
        interaction.locale,
        content,
        embeds=[*([embed] if embed else []), *embeds],
        files=[*([file] if file else []), *files],
        size_limit=interaction.filesize_limit,
    )
    try:
        return await _send(interaction, fitted, view, ephemeral)
    except discord.HTTPException as exc:
        _log_failure("reply", interaction, exc)
        if exc.code in TOKEN_GONE or exc.status >= 500:
            return None
    try:
        return await _send(
            interaction, fit(interaction.locale, t(interaction.locale, "reply.failed")), MISSING, True
        )
    except discord.HTTPException as exc:
        _log_failure("fallback reply", interaction, exc)
        return None


async def _send(interaction, fitted: Fitted, view, ephemeral: bool):
    kwargs = {"content": fitted.content, "embeds": fitted.embeds, "ephemeral": ephemeral}
    if fitted.files:
        kwargs["files"] = fitted.files
    if view is not MISSING:
        kwargs["view"] = view
    if interaction.response.is_done():
        return await interaction.followup.send(wait=True, **kwargs)
    await interaction.response.send_message(**kwargs)
    return None


async def edit(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    file: discord.File | None = None,
    view: discord.ui.View | None = MISSING,
) -> bool:
    """Replace the message this interaction shows: the one whose button was pressed (if not
    answered yet), else the original response. ``False`` when it could not be edited (logged)."""
    fitted = fit(
        interaction.locale,
        content,
        embeds=[embed] if embed else [],
        files=[file] if file else [],
        size_limit=interaction.filesize_limit,
    )
    kwargs = {"content": fitted.content, "embeds": fitted.embeds, "attachments": fitted.files}
    if view is not MISSING:
        kwargs["view"] = view
    try:
        if interaction.type is discord.InteractionType.component and not interaction.response.is_done():
            await interaction.response.edit_message(**kwargs)
        else:
            await interaction.edit_original_response(**kwargs)
        return True
    except discord.HTTPException as exc:
        _log_failure("edit", interaction, exc)
        return False


async def post(
    channel: discord.abc.Messageable,
    locale: discord.Locale | str | None,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View = MISSING,
    allowed_mentions: discord.AllowedMentions | None = None,
) -> discord.Message:
    """Send a message to a channel or a DM, fitted; raises discord.HTTPException like ``send``."""
    fitted = fit(locale, content, embeds=[embed] if embed else [])
    kwargs = {
        "content": fitted.content,
        "embeds": fitted.embeds,
        "allowed_mentions": allowed_mentions or discord.AllowedMentions.none(),
    }
    if fitted.files:
        kwargs["files"] = fitted.files
    if view is not MISSING:
        kwargs["view"] = view
    return await channel.send(**kwargs)


def _log_failure(what: str, interaction: discord.Interaction, exc: discord.HTTPException) -> None:
    log.warning(
        "Could not deliver a %s for interaction %s: HTTP %s, Discord code %s",
        what,
        interaction.id,
        exc.status,
        exc.code,
    )
