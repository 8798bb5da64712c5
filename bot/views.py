"""Buttons: a confirmation for anything irreversible, and Previous / Next over pages.

Only the member who ran the command may press them, and they disable themselves on timeout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import discord

from bot import replies
from bot.errors import report_error
from bot.i18n import t
from shared.records import Page

T = TypeVar("T")


class OwnerView(discord.ui.View):
    """A view that answers only the member who opened it; ``message`` is set once it is sent."""

    def __init__(self, owner_id: int, locale, *, timeout: float):
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.locale = locale
        self.message: discord.WebhookMessage | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await replies.send(interaction, t(interaction.locale, "view.not_yours"))
        return False

    def disable(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True

    async def on_timeout(self) -> None:
        self.disable()
        await self._edit_message(view=self)

    async def _edit_message(self, **fields) -> None:
        if self.message is None:
            return
        try:
            await self.message.edit(**fields)
        except discord.HTTPException:
            # The message may be gone (dismissed) or the token expired: nothing left to update.
            pass

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await report_error(interaction, error)


class ConfirmView(OwnerView):
    def __init__(
        self,
        owner_id: int,
        locale,
        on_confirm: Callable[[discord.Interaction], Awaitable[None]],
        *,
        confirm_label: str,
        timeout: float,
    ):
        super().__init__(owner_id, locale, timeout=timeout)
        self._on_confirm = on_confirm
        self.confirm.label = confirm_label
        self.cancel.label = t(locale, "view.cancel")
        self.outcome: str | None = None

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        self.outcome = "confirmed"
        self.disable()
        self.stop()
        # Acknowledge at once (the work below may take a while), then do it.
        await replies.edit(interaction, t(interaction.locale, "view.working"), view=self)
        try:
            await self._on_confirm(interaction)
        except Exception as exc:
            # Not a second message under a frozen "Working on it…": the failure replaces it.
            await report_error(interaction, exc, replace=True)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        self.outcome = "cancelled"
        self.disable()
        self.stop()
        await replies.edit(interaction, t(interaction.locale, "view.cancelled"), view=self)

    async def on_timeout(self) -> None:
        self.outcome = "timed_out"
        self.disable()
        await self._edit_message(content=t(self.locale, "view.timed_out"), view=self)


class PagedView(OwnerView, Generic[T]):
    """Pages of a listing: the cursors seen so far make Previous possible.

    ``render(page, number)`` draws one page as an embed.
    """

    def __init__(
        self,
        owner_id: int,
        locale,
        fetch: Callable[[str | None], Awaitable[Page[T]]],
        first: Page[T],
        render: Callable[[Page[T], int], discord.Embed],
        *,
        timeout: float,
    ):
        super().__init__(owner_id, locale, timeout=timeout)
        self._fetch = fetch
        self._render = render
        self._cursors: list[str | None] = [None]
        self._page = first
        self.previous.label = t(locale, "view.previous")
        self.next.label = t(locale, "view.next")
        self._update_buttons()

    @property
    def page_number(self) -> int:
        return len(self._cursors)

    def embed(self) -> discord.Embed:
        return self._render(self._page, self.page_number)

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page_number == 1
        self.next.disabled = self._page.next_cursor is None

    async def _show(self, interaction: discord.Interaction, cursors: list[str | None]) -> None:
        await interaction.response.defer()
        self._page = await self._fetch(cursors[-1])
        self._cursors = cursors
        self._update_buttons()
        await replies.edit(interaction, embed=self.embed(), view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._show(interaction, self._cursors[:-1])

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._show(interaction, [*self._cursors, self._page.next_cursor])
