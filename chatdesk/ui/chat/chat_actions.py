"""The window's chat commands beyond sending: export, import, regenerate, edit and resend,
copy the last reply, and moving between threads.

They live here rather than in ``main_window`` so the window stays a wiring diagram:
``ChatActions(window)`` creates the actions, puts them in the File and Chat menus and
connects the bubble menu's requests. File dialogs are opened by ``choose_export_path``
and ``choose_import_path`` only, so tests (and scripts) replace those two methods.

Importing and exporting run in the background (the window's ``Tasks``, the work in
``ui/transfer/jobs.py``); an import shows a progress bar and Cancel above the composer
(``ImportPanel``), the window stays usable, and the chat opens when it is in.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QStandardPaths, QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QBoxLayout, QFileDialog, QMenu, QMessageBox

from chatdesk.services.conversation import Outgoing
from chatdesk.services.errors import ValidationError
from chatdesk.services.foreign.chat import SOURCE_NAMES, Source
from chatdesk.services.foreign_import import ALREADY, ImportSummary
from chatdesk.services.import_batch import AlreadyImportedError
from chatdesk.services.transfer import ImportProgress
from chatdesk.ui.chat.action_bar import BarCommand
from chatdesk.ui.notices import Notices
from chatdesk.ui.tasks import Task, Tasks, failure_reason
from chatdesk.ui.threads.thread_model import ThreadRoles
from chatdesk.ui.transfer.export_all import ExportAll
from chatdesk.ui.transfer.import_panel import ImportPanel
from chatdesk.ui.transfer.jobs import export_work, import_work

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from PySide6.QtCore import SignalInstance
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QMenuBar, QWidget

    from chatdesk.services import Services
    from chatdesk.ui.chat.composer import Composer
    from chatdesk.ui.chat.message_model import MessageListModel
    from chatdesk.ui.chat.message_view import MessageListView
    from chatdesk.ui.threads.thread_list import ThreadListPanel
    from chatdesk.ui.threads.thread_model import ThreadListModel

log = logging.getLogger(__name__)


def import_report(summary: ImportSummary) -> str:
    """What an import did, in a sentence: "Imported 12 chats from ChatGPT (3,400
    messages); 2 already here"."""
    chats = summary.chats
    if len(chats) == 1:
        text = f"Imported “{chats[0].title}” ({summary.messages:,} messages)"
    else:
        text = (
            f"Imported {len(chats):,} chats from {SOURCE_NAMES[summary.source]} "
            f"({summary.messages:,} messages)"
        )
    already = sum(1 for skipped in summary.skipped if skipped.reason == ALREADY)
    others = [skipped for skipped in summary.skipped if skipped.reason != ALREADY]
    if already:
        text += f"; {already:,} already here"
    if others:
        first = others[0]
        more = f" and {len(others) - 1:,} more" if len(others) > 1 else ""
        text += f"; skipped “{first.title}” ({first.reason}){more}"
    return text


EXPORT_FILTERS = {
    "markdown": "Markdown (*.md)",
    "markdown-all": "Markdown (*.md)",
    "json": "chatdesk JSON (*.json)",
}
EXPORT_SUFFIXES = {"markdown": ".md", "markdown-all": ".md", "json": ".json"}
IMPORT_FILTERS: dict[str, Source | None] = {
    "Chat exports, any kind found from the file (*.json *.zip)": None,
    "ChatGPT export: conversations.json or its .zip (*.json *.zip)": Source.CHATGPT,
    "Claude export: conversations.json or its .zip (*.json *.zip)": Source.CLAUDE,
    "Open WebUI chat export (*.json)": Source.OPEN_WEBUI,
    "LibreChat conversation export (*.json)": Source.LIBRECHAT,
    "chatdesk chat (*.json)": Source.CHATDESK,
    "chatdesk archive (*.zip *.json)": Source.CHATDESK_ARCHIVE,
    "All files (*)": None,
}
"""The import dialog's file types: picking one says what the file is (else: found out)."""


def export_file_name(title: str, kind: str) -> str:
    """A file name from a thread title: letters, digits, spaces and dashes only."""
    cleaned = "".join(c if c.isalnum() or c in " -_" else " " for c in title)
    stem = " ".join(cleaned.split())[:80] or "chat"
    return stem + EXPORT_SUFFIXES[kind]


class ChatWindow(Protocol):
    """The parts of the window the chat commands act on (the main window is one).

    Named here, rather than importing the window, so that the window may import this
    module without a circle.
    """

    services: Services
    user_id: int
    message_model: MessageListModel
    message_view: MessageListView
    thread_model: ThreadListModel
    sidebar: ThreadListPanel
    composer: Composer
    chat_pane: QWidget
    settings_action: QAction
    tasks: Tasks

    @property
    def thread_opened(self) -> SignalInstance: ...

    @property
    def retry_requested(self) -> SignalInstance: ...

    @property
    def current_thread_id(self) -> int | None: ...

    def menuBar(self) -> QMenuBar: ...

    def _action(
        self,
        text: str,
        slot: object,
        *shortcuts: QKeySequence | QKeySequence.StandardKey | str,
        scope: QWidget | None = None,
    ) -> QAction: ...

    def perform(self, key: Hashable, action: Callable[[], object]) -> None: ...


class ChatActions(QObject):
    """The commands, as ``QAction``s with shortcuts, on behalf of one window."""

    def __init__(self, window: ChatWindow, notices: Notices, parent: QWidget) -> None:
        super().__init__(parent)
        self.window = window
        self.notices = notices
        self._parent = parent  # the file dialogs' parent
        act = window._action
        self.export_markdown_action = act(
            "Export chat as &Markdown…", lambda: self.export_current("markdown")
        )
        self.export_versions_action = act(
            "Export chat as Markdown, every &version…",
            lambda: self.export_current("markdown-all"),
        )
        self.export_json_action = act("Export chat as &JSON…", lambda: self.export_current("json"))
        self.import_action = act("&Import chats…", lambda: self.import_chat())
        self.export_all = ExportAll(
            window.services.transfer, window.user_id, window.tasks, notices, parent
        )
        self.export_all_action = act("Export &all chats…", self.export_all.open_dialog)
        self.regenerate_action = act("&Regenerate reply", self.regenerate, "Ctrl+Shift+R")
        self.copy_reply_action = act("&Copy last reply", self.copy_last_reply, "Ctrl+Shift+C")
        self.previous_mine_action = act(
            "Previous message of &mine", lambda: self.jump_to_mine(-1), "Alt+Up"
        )
        self.next_mine_action = act(
            "Next message of m&ine", lambda: self.jump_to_mine(1), "Alt+Down"
        )
        self.next_thread_action = act(
            "&Next chat", lambda: self.switch_thread(1), "Ctrl+Tab", "Ctrl+PgDown"
        )
        self.previous_thread_action = act(
            "Pre&vious chat", lambda: self.switch_thread(-1), "Ctrl+Shift+Tab", "Ctrl+PgUp"
        )
        for action in self.export_actions():
            action.setEnabled(False)
        self.regenerate_action.setEnabled(False)
        bar = window.message_view.action_bar  # its tooltips name the shortcut
        bar.set_shortcut(BarCommand.REGENERATE, self.regenerate_action.shortcut())
        self.import_task: Task | None = None
        self._import_path: Path | None = None
        self.import_source: Source | None = None
        """The format the person said the file is in (None: found from the file)."""
        self._import_again: tuple[Path, Source | None] = (Path(), None)
        self.export_tasks: list[Task] = []
        self.import_panel = ImportPanel(window.chat_pane)
        self._add_import_panel()
        self._add_to_menus()
        self._connect_signals()

    def jump_to_mine(self, step: int) -> None:
        """Show the person's previous or next message in the open chat (Alt+Up/Down)."""
        if not self.window.message_view.jump_to_mine(step):
            where = "above" if step < 0 else "below"
            self.notices.info(f"No message of yours {where}.")

    def export_actions(self) -> tuple[QAction, QAction, QAction]:
        return self.export_markdown_action, self.export_versions_action, self.export_json_action

    def _menu(self, title: str) -> QMenu | None:
        for action in self.window.menuBar().actions():
            menu = action.menu()
            if isinstance(menu, QMenu) and action.text() == title:
                return menu
        return None

    def _add_to_menus(self) -> None:
        file_menu = self._menu("&File")
        if file_menu is not None:
            before = self.window.settings_action
            file_menu.insertAction(before, self.import_action)
            file_menu.insertAction(before, self.export_markdown_action)
            file_menu.insertAction(before, self.export_versions_action)
            file_menu.insertAction(before, self.export_json_action)
            file_menu.insertAction(before, self.export_all_action)
            file_menu.insertSeparator(before)
        chat_menu = self._menu("&Chat")
        if chat_menu is not None:
            chat_menu.addSeparator()
            chat_menu.addAction(self.regenerate_action)
            chat_menu.addAction(self.copy_reply_action)
            chat_menu.addAction(self.previous_mine_action)
            chat_menu.addAction(self.next_mine_action)
            chat_menu.addSeparator()
            chat_menu.addAction(self.next_thread_action)
            chat_menu.addAction(self.previous_thread_action)

    def _add_import_panel(self) -> None:
        """Put the import bar into the chat pane, between the messages and the composer."""
        layout = self.window.chat_pane.layout()
        if isinstance(layout, QBoxLayout):
            layout.insertWidget(layout.count() - 1, self.import_panel)

    def _connect_signals(self) -> None:
        w = self.window
        self.import_panel.cancel_clicked.connect(self.cancel_import)
        w.message_view.regenerate_requested.connect(self.regenerate)
        w.message_view.edit_requested.connect(self.edit_and_resend)
        w.message_view.quote_requested.connect(w.composer.insert_quote)
        w.message_view.bubble_editor.submitted.connect(self.send_edit)
        model = w.message_model
        model.activity_changed.connect(self.update_actions)
        model.modelReset.connect(self.update_actions)
        model.rowsInserted.connect(self.update_actions)
        model.dataChanged.connect(self.update_actions)
        w.thread_opened.connect(self.update_actions)

    def update_actions(self, *_args: object) -> None:
        w = self.window
        open_thread = w.current_thread_id is not None
        for action in self.export_actions():
            action.setEnabled(open_thread)
        self.regenerate_action.setEnabled(w.message_model.regenerate_target() is not None)

    # -- regenerate and edit ---------------------------------------------------------

    def regenerate(self, message_id: int | None = None) -> None:
        """A new reply to the last message (``message_id`` from a bubble, else the last)."""
        w = self.window
        target = message_id if message_id else w.message_model.regenerate_target()
        if target is None:
            self.notices.error("There is no finished reply to regenerate.")
            return

        def regenerate() -> None:
            w.services.conversation.regenerate(w.user_id, target)
            w.retry_requested.emit(target)
            w.message_view.scroll_to_end()

        w.perform(("regenerate", target), regenerate)

    def edit_and_resend(self, message_id: int) -> None:
        """Edit a message of yours in its bubble; sending makes a new version of it."""
        self.window.message_view.bubble_editor.open_on(message_id)

    def send_edit(self, message_id: int, text: str) -> None:
        """Send the bubble editor's words as a new version of ``message_id``; the editor
        closes once it is written (a busy database is tried again, a failure told)."""
        w = self.window
        try:
            w.services.conversation.check(text)
        except ValidationError as error:
            self.notices.error(str(error))
            return
        outgoing = Outgoing(text, w.current_thread_id, message_id)

        def send() -> None:
            w.services.conversation.send(w.user_id, outgoing)
            w.message_view.bubble_editor.close_editor()

        w.perform(("edit", message_id), send)

    # -- clipboard and navigation ----------------------------------------------------

    def copy_last_reply(self) -> None:
        reply = self.window.message_model.last_reply()
        if reply is None:
            self.notices.error("No reply to copy yet.")
            return
        QGuiApplication.clipboard().setText(reply.content)
        self.notices.info("Reply copied")

    def switch_thread(self, step: int) -> None:
        """Open the next (1) or previous (-1) chat of the list as shown, wrapping around."""
        view = self.window.sidebar.view
        model = view.model()
        count = model.rowCount()
        if count == 0:
            return
        current = view.currentIndex()
        row = current.row() if current.isValid() else (-1 if step > 0 else 0)
        thread_id = model.index((row + step) % count, 0).data(ThreadRoles.ThreadId)
        if isinstance(thread_id, int):
            self.window.sidebar.select_thread(thread_id)

    # -- files -----------------------------------------------------------------------

    def choose_export_path(self, kind: str, suggested: str) -> str | None:
        """Ask where to save (a dialog); tests replace this method."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        path, _filter = QFileDialog.getSaveFileName(
            self._parent,
            "Export chat",
            str(Path(folder) / suggested),
            EXPORT_FILTERS[kind],
        )
        return path or None

    def choose_import_path(self) -> str | None:
        """Ask which file to import (a dialog; its file type, if not "any", says the
        format: ``import_source``); tests replace this method."""
        path, chosen = QFileDialog.getOpenFileName(
            self._parent, "Import chats", "", ";;".join(IMPORT_FILTERS)
        )
        self.import_source = IMPORT_FILTERS.get(chosen)
        return path or None

    def confirm_import_again(self, text: str) -> bool:
        """Ask whether to import chats that are here already as copies; tests replace it."""
        answer = QMessageBox.question(
            self._parent,
            "Already imported",
            f"{text}\n\nImport it again as copies?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def export_current(self, kind: str, path: str | None = None) -> Task | None:
        """Start writing the open thread as ``markdown`` (the path shown), ``markdown-all``
        (every version) or ``json``, in the background.

        Returns the running export (it ``succeeded`` with the file), or None when no
        chat is open or no file was chosen.
        """
        w = self.window
        thread_id = w.current_thread_id
        record = w.thread_model.record(thread_id) if thread_id else None
        if thread_id is None or record is None:
            return None
        w.composer.flush_draft()
        chosen = path or self.choose_export_path(kind, export_file_name(record.title, kind))
        if not chosen:
            return None
        target = Path(chosen)
        if not target.suffix:
            target = target.with_suffix(EXPORT_SUFFIXES[kind])
        work = export_work(w.services.transfer, w.user_id, thread_id, kind, target)
        task = w.tasks.start("chatdesk-export", work, gui_first=True)
        task.succeeded.connect(self.on_exported)
        task.failed.connect(partial(self.on_export_failed, target))
        task.ended.connect(self.on_export_ended)
        self.export_tasks.append(task)
        self.notices.waiting(f"Exporting “{record.title}”…")
        return task

    def on_exported(self, written: Path) -> None:
        self.notices.info(f"Exported to {written.name}")

    def on_export_failed(self, target: Path, error: BaseException) -> None:
        reason = failure_reason(error, f"export of {target.name}")
        self.notices.error(f"Could not export the chat: {reason}")

    def on_export_ended(self) -> None:
        task = self.sender()
        if isinstance(task, Task) and task in self.export_tasks:
            self.export_tasks.remove(task)

    def import_chat(
        self, path: str | None = None, source: Source | None = None, *, again: bool = False
    ) -> Task | None:
        """Start importing a file of chats (chatdesk's, or another app's export: found
        from its content unless ``source`` says); the chat opens when it is in.

        Returns the running import (its ``ended`` signal tells when it is over), or None
        when no file was chosen or another import is still running.
        """
        w = self.window
        if self.import_task is not None:
            self.notices.error("Another import is running; wait for it or cancel it.")
            return None
        self.import_source = source
        chosen = path or self.choose_import_path()
        if not chosen:
            return None
        file = Path(chosen)
        work = import_work(w.services.imports, w.user_id, file, self.import_source, again)
        task = w.tasks.start("chatdesk-import", work, gui_first=True)
        task.progressed.connect(self.on_import_progress)
        task.succeeded.connect(self.on_import_succeeded)
        task.failed.connect(self.on_import_failed)
        task.cancelled.connect(self.on_import_cancelled)
        task.ended.connect(self.on_import_ended)
        self.import_task, self._import_path = task, file
        self._import_again = (file, self.import_source)
        self.import_action.setEnabled(False)
        self.import_panel.begin(file.name)
        return task

    def cancel_import(self) -> None:
        """Stop the running import; it removes what it wrote before saying so."""
        if self.import_task is not None:
            self.import_task.cancel()

    def on_import_progress(self, progress: ImportProgress) -> None:
        self.import_panel.show_progress(progress)

    def on_import_succeeded(self, summary: ImportSummary) -> None:
        if len(summary.chats) == 1:  # one chat opens; a history stays where you were
            self.window.sidebar.select_thread(summary.chats[0].id)
        self.notices.info(import_report(summary))

    def on_import_failed(self, error: BaseException) -> None:
        if isinstance(error, AlreadyImportedError):
            file, source = self._import_again
            # after the task ends, so the next import can start
            QTimer.singleShot(0, lambda: self._offer_import_again(str(error), file, source))
            return
        name = self._import_path.name if self._import_path else "the file"
        reason = failure_reason(error, f"import of {name}")
        self.notices.error(f"Could not import {name}: {reason}")

    def _offer_import_again(self, text: str, file: Path, source: Source | None) -> None:
        if self.confirm_import_again(text):
            self.import_chat(str(file), source, again=True)

    def on_import_cancelled(self) -> None:
        name = self._import_path.name if self._import_path else "the file"
        self.notices.info(f"Import of {name} cancelled; nothing was added.")

    def on_import_ended(self) -> None:
        self.import_task = self._import_path = None
        self.import_panel.finish()
        self.import_action.setEnabled(True)
