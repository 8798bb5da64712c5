"""What Discord refuses with 400 "Invalid Form Body", checked on payloads as they would be sent.

discord.py checks none of these locally: an oversized reply fails only at Discord, where the
whole message is refused. The fake wire (harness.py) runs every recorded message, interaction
callback and component through ``message_problems``; the command lint uses ``component_problems``.
"""

from __future__ import annotations

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
ACTION_ROWS = 5
ROW_WIDTH = 5
BUTTON_LABEL = 80
CUSTOM_ID = 100
CHOICES = 25
CHOICE_TEXT = 100
MODAL_TITLE = 45
LABEL = 45
LABEL_DESCRIPTION = 100
PLACEHOLDER = 100
TEXT_INPUT_VALUE = 4000


def _too_long(
    problems: list[str], where: str, text: str | None, limit: int, *, empty_ok: bool = True
) -> None:
    if text is None:
        return
    if len(text) > limit:
        problems.append(f"{where}: {len(text)} characters (limit {limit})")
    elif not text and not empty_ok:
        problems.append(f"{where}: empty")


def embed_problems(embeds: list[dict]) -> list[str]:
    problems: list[str] = []
    if len(embeds) > EMBEDS:
        problems.append(f"{len(embeds)} embeds (limit {EMBEDS})")
    total = 0
    for number, embed in enumerate(embeds):
        where = f"embed {number}"
        texts = {
            "title": (embed.get("title"), TITLE),
            "description": (embed.get("description"), DESCRIPTION),
            "footer": ((embed.get("footer") or {}).get("text"), FOOTER),
            "author": ((embed.get("author") or {}).get("name"), AUTHOR),
        }
        for name, (text, limit) in texts.items():
            _too_long(problems, f"{where} {name}", text, limit)
            total += len(text or "")
        fields = embed.get("fields") or []
        if len(fields) > FIELDS:
            problems.append(f"{where}: {len(fields)} fields (limit {FIELDS})")
        for index, item in enumerate(fields):
            _too_long(problems, f"{where} field {index} name", item.get("name"), FIELD_NAME, empty_ok=False)
            _too_long(
                problems, f"{where} field {index} value", item.get("value"), FIELD_VALUE, empty_ok=False
            )
            total += len(item.get("name") or "") + len(item.get("value") or "")
    if total > EMBED_TOTAL:
        problems.append(f"embeds hold {total} characters (limit {EMBED_TOTAL})")
    return problems


def component_problems(components: list[dict]) -> list[str]:
    """Message components: rows of at most five buttons, labels and custom ids within limits."""
    problems: list[str] = []
    if len(components) > ACTION_ROWS:
        problems.append(f"{len(components)} action rows (limit {ACTION_ROWS})")
    for row in components:
        children = row.get("components", [])
        if not 1 <= len(children) <= ROW_WIDTH:
            problems.append(f"an action row of {len(children)} components")
        for child in children:
            _too_long(problems, "button label", child.get("label"), BUTTON_LABEL)
            _too_long(problems, "custom_id", child.get("custom_id"), CUSTOM_ID)
    return problems


def modal_problems(modal: dict) -> list[str]:
    problems: list[str] = []
    _too_long(problems, "modal title", modal.get("title"), MODAL_TITLE, empty_ok=False)
    _too_long(problems, "modal custom_id", modal.get("custom_id"), CUSTOM_ID, empty_ok=False)
    components = modal.get("components", [])
    if not 1 <= len(components) <= ACTION_ROWS:
        problems.append(f"a modal of {len(components)} components")
    for component in components:
        inner = component.get("component") or (component.get("components") or [{}])[0]
        _too_long(problems, "label", component.get("label", inner.get("label")), LABEL, empty_ok=False)
        _too_long(problems, "label description", component.get("description"), LABEL_DESCRIPTION)
        _too_long(problems, "placeholder", inner.get("placeholder"), PLACEHOLDER)
        _too_long(problems, "text input custom_id", inner.get("custom_id"), CUSTOM_ID, empty_ok=False)
        if inner.get("max_length", 0) > TEXT_INPUT_VALUE:
            problems.append(f"a text input of max_length {inner['max_length']}")
    return problems


def choice_problems(choices: list[dict]) -> list[str]:
    problems: list[str] = []
    if len(choices) > CHOICES:
        problems.append(f"{len(choices)} choices (limit {CHOICES})")
    for choice in choices:
        _too_long(problems, "choice name", choice.get("name"), CHOICE_TEXT, empty_ok=False)
        if isinstance(choice.get("value"), str):
            _too_long(problems, "choice value", choice["value"], CHOICE_TEXT, empty_ok=False)
    return problems


def message_problems(data: dict, files: dict[str, bytes], *, size_limit: int) -> list[str]:
    """A message (content, embeds, components, files) as Discord would check it."""
    problems: list[str] = []
    _too_long(problems, "content", data.get("content"), CONTENT)
    problems += embed_problems(data.get("embeds") or [])
    problems += component_problems(data.get("components") or [])
    if len(files) > FILES:
        problems.append(f"{len(files)} files (limit {FILES})")
    if sum(len(body) for body in files.values()) > size_limit:
        problems.append("files over the attachment size limit")
    return problems


def is_empty(data: dict, files: dict[str, bytes]) -> bool:
    """Discord refuses a new message with nothing in it (50006)."""
    return not (data.get("content") or data.get("embeds") or data.get("components") or files)
