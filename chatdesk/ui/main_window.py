"""The chatdesk main window: threads on the left, the open chat on the right.

It wires the parts together and performs the person's commands through the services
(send, retry, rename, pin, delete with Undo, drafts). It does not run replies: Stop is
handed to whoever runs executions through ``stop_requested``, and retries are announced
through ``retry_requested`` after the service has queued them; streamed text goes from
the coordinator to the message model without it (``chatdesk.app`` wires that). Everything
else it shows follows the change bus through ``ChangeSignals``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Hashable

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from chatdesk import preferences
from chatdesk.config import data_dir
from chatdesk.runs.coordinator import PendingApproval
from chatdesk.runs.crew_choice import list_crews
from chatdesk.runs.providers import LocalServer
from chatdesk.services import Services
from chatdesk.services.conversation import Outgoing
from chatdesk.services.errors import ServiceError, StorageError, ValidationError
from chatdesk.services.events import Change, ChangeKind
from chatdesk.services.records import ThreadRecord
from chatdesk.services.threads import DEFAULT_TITLE
from chatdesk.ui.bridge import ChangeSignals
from chatdesk.ui.busy_retry import BusyRetry
from chatdesk.ui.chat.attaching import LIMITS, Attaching, FileDrops
from chatdesk.ui.chat.branch_actions import BranchActions
from chatdesk.ui.chat.bubble_thumbnails import BubbleThumbnails
from chatdesk.ui.chat.chat_actions import ChatActions
from chatdesk.ui.chat.citations import CitationOpener, citations_of
from chatdesk.ui.chat.composer import Composer
from chatdesk.ui.chat.image_viewer import AttachmentOpener
from chatdesk.ui.chat.markdown_render import is_openable_url
from chatdesk.ui.chat.math_images import MathImages
from chatdesk.ui.chat.message_delegate import COLUMN_MAX, FILE_THUMB
from chatdesk.ui.chat.message_model import MessageListModel
from chatdesk.ui.chat.message_view import MessageListView
from chatdesk.ui.chat.prompt_picker import PromptPicker
from chatdesk.ui.chat.tool_approval import ToolApprovalPanel
from chatdesk.ui.notices import Notices
from chatdesk.ui.scaled_font import keep_scaled, set_text_size
from chatdesk.ui.search.search_panel import SearchKeys, SearchPanel
from chatdesk.ui.search.search_worker import SearchRunner
from chatdesk.ui.settings import UiSettings, configured_model
from chatdesk.ui.setup.local_probe import LocalServerProbe
from chatdesk.ui.setup.prompts_dialog import PromptsDialog
from chatdesk.ui.setup.provider_setup import ProviderSetupCard
from chatdesk.ui.setup.settings_dialog import SettingsDialog
from chatdesk.ui.tasks import Tasks
from chatdesk.ui.theme import ThemeManager, ThemeMode
from chatdesk.ui.threads.pending_deletes import PendingDeletes
from chatdesk.ui.threads.thread_header import ThreadHeader
from chatdesk.ui.threads.thread_list import ThreadListPanel
from chatdesk.ui.threads.thread_model import ThreadListModel
from chatdesk.ui.toast import Toast
from chatdesk.ui.trace.trace_panel import MIN_WIDTH as TRACE_MIN_WIDTH
from chatdesk.ui.trace.trace_panel import PREFERRED_WIDTH as TRACE_PREFERRED_WIDTH
from chatdesk.ui.trace.trace_panel import ExecutionPanel

SIDEBAR_BESIDE_DETAILS = 220
"""How narrow the chat list may get to make room for Run details beside the chat."""
CHAT_BESIDE_DETAILS = 460
"""The chat's width Run details leaves when it can (it takes less than it would like)."""

log = logging.getLogger(__name__)
APP_TITLE = "chatdesk"
SYNC_OFFLINE = "Offline — other desktops' changes will show once reconnected"
SYNC_OFFLINE_TIP = (
    "The connection that hears the other desktops sharing this database was lost; "
    "chatdesk is reconnecting and will then show what changed meanwhile."
)
NO_THREAD_HINT = "Start a conversation — press Ctrl+N or just type below"
EMPTY_THREAD_HINT = "No messages yet — type below to start"


_SEND = "send"
"""``BusyRetry`` key of the composer's send (one waits at a time)."""


class MainWindow(QMainWindow):
    """The window; construct it with the services and the acting user.

    Signals:
        stop_requested: Stop was asked for this execution (int execution id).
        retry_requested: this user message was queued again (int message id).
        thread_opened: the open thread changed (int id, 0 for none).
    """

    stop_requested = Signal(int)
    retry_requested = Signal(int)
    thread_opened = Signal(int)

    def __init__(self, services: Services, user_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.services = services
        self.user_id = user_id
        self.settings = UiSettings(parent=self)
        self.tasks = Tasks(self)  # work off the GUI thread, closed with the window
        self.theme = ThemeManager(self.settings.theme, self)
        self.theme.apply()
        self.bridge = ChangeSignals(services.bus, user_id, self)
        self.thread_model = ThreadListModel(services, user_id, self)
        self.thread_model.reload()
        self.message_model = MessageListModel(services, user_id, self)
        self.pending_deletes = PendingDeletes(services, user_id, parent=self)
        self.probe = LocalServerProbe(self, tasks=self.tasks)
        self.busy_retry = BusyRetry(self)
        self._thread_id: int | None = None
        self._closed = False
        self._unsaved_drafts: dict[int, str] = {}
        """Drafts the database refused (busy, full disk), by thread: shown, saved later."""

        self._build_ui()
        self._build_actions()
        self._build_menus()
        self._connect_signals()
        self.chat_actions = ChatActions(self, self.notices, parent=self)
        self._restore_settings()
        self._update_title()
        self._update_empty_state()
        self.composer.setFocus()

    # -- construction ----------------------------------------------------------------

    def _build_ui(self) -> None:
        self.sidebar = ThreadListPanel(self.thread_model, self.theme, self)
        self.search_runner = SearchRunner(self.services.search, self.user_id, self.tasks, self)
        self.search_panel = SearchPanel(
            self.search_runner, self.theme, self.thread_model.is_hidden, self.sidebar
        )
        self.sidebar.add_results(self.search_panel)
        SearchKeys(self.sidebar.search, self.sidebar.view, self.search_panel)

        self.chat_pane = QWidget(self)
        self.chat_pane.setObjectName("chatPane")
        self.chat_pane.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.message_view = MessageListView(self.message_model, self.theme, self.chat_pane)
        self.empty_hint = QLabel(NO_THREAD_HINT, self.chat_pane)
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        keep_scaled(self.empty_hint, +2)
        self.setup_card = ProviderSetupCard(self.probe, self.chat_pane)
        self.setup_card.setMaximumWidth(560)
        self.empty_page = QWidget(self.chat_pane)
        self.empty_page.setObjectName("emptyPage")
        self.empty_page.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        empty_layout = QVBoxLayout(self.empty_page)
        empty_layout.setContentsMargins(24, 24, 24, 24)
        empty_layout.setSpacing(22)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_hint)
        card_row = QHBoxLayout()
        card_row.addStretch(0)
        card_row.addWidget(self.setup_card, 1)
        card_row.addStretch(0)
        empty_layout.addLayout(card_row)
        empty_layout.addStretch(1)
        self.message_stack = QStackedWidget(self.chat_pane)
        self.message_stack.addWidget(self.message_view)
        self.message_stack.addWidget(self.empty_page)
        self.header = ThreadHeader(
            self.services, self.user_id, self.settings, self.chat_pane, tasks=self.tasks
        )
        self.header.set_crews(list_crews(data_dir()))
        self.sync_status = QLabel(SYNC_OFFLINE, self.chat_pane)
        self.sync_status.setObjectName("syncStatus")
        self.sync_status.setTextFormat(Qt.TextFormat.PlainText)
        self.sync_status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sync_status.setToolTip(SYNC_OFFLINE_TIP)
        self.sync_status.setContentsMargins(12, 4, 12, 4)
        self.sync_status.setWordWrap(True)  # a narrow window stays narrow while it shows
        self.sync_status.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # quiet
        self.sync_status.hide()
        self.toast = Toast(self.message_stack)
        self.notices = Notices(self.toast, self)
        self.toast.space_needed.connect(self.message_view.reserve_bottom)
        self.branch_actions = BranchActions(
            self.services, self.user_id, self.notices, self.toast, self.open_thread, self
        )

        self.composer = Composer(self.chat_pane)
        self.composer.setMaximumWidth(COLUMN_MAX)
        self.composer.attach_button.setToolTip(f"Attach files. {LIMITS}")
        self.prompt_picker = PromptPicker(
            self.services.prompts, self.user_id, self.composer.edit, self.chat_pane, self.composer
        )
        self.attaching = Attaching(
            self.services.attachments,
            self.user_id,
            self.tasks,
            self.notices,
            self.composer.chip_model,
            self,
            texts=self.services.document_texts,
        )
        self.message_drops = FileDrops(self.message_view.viewport())
        self.opener = AttachmentOpener(
            self.services.attachments, self.user_id, self.tasks, self.notices, self
        )
        self.citation_opener = CitationOpener(
            self.services.attachments, self.user_id, self.tasks, self.notices, self
        )
        self.bubble_thumbnails = BubbleThumbnails(
            self.services.attachments, self.user_id, self.tasks, FILE_THUMB, self
        )
        self.message_view.delegate.thumbnails = self.bubble_thumbnails
        self.formulas = MathImages(self.tasks, self)
        self.message_view.delegate.math = self.formulas
        self.tool_approval = ToolApprovalPanel(self.chat_pane)
        self.tool_approval.setMaximumWidth(COLUMN_MAX)
        approval_row = QHBoxLayout()
        approval_row.setContentsMargins(20, 6, 20, 0)
        approval_row.addStretch(0)
        approval_row.addWidget(self.tool_approval, 1)
        approval_row.addStretch(0)
        composer_row = QHBoxLayout()
        composer_row.setContentsMargins(20, 6, 20, 14)
        composer_row.addStretch(0)
        composer_row.addWidget(self.composer, 1)
        composer_row.addStretch(0)
        pane_layout = QVBoxLayout(self.chat_pane)
        pane_layout.setContentsMargins(0, 0, 0, 0)
        pane_layout.setSpacing(0)
        pane_layout.addWidget(self.header)
        pane_layout.addWidget(self.sync_status)
        pane_layout.addWidget(self.message_stack, 1)
        pane_layout.addLayout(approval_row)
        pane_layout.addLayout(composer_row)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.chat_pane)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(1)
        self.setCentralWidget(self.splitter)

        self.execution_panel = ExecutionPanel(self.services, self.user_id, self)
        self._selected_message_id = 0
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.execution_panel)
        self.execution_panel.hide()
        self.execution_panel.before_show = self._place_details

        QWidget.setTabOrder(self.sidebar.new_button, self.sidebar.search)
        QWidget.setTabOrder(self.sidebar.search, self.sidebar.view)
        QWidget.setTabOrder(self.sidebar.view, self.header.crew_combo)
        QWidget.setTabOrder(self.header.crew_combo, self.header.model_combo)
        QWidget.setTabOrder(self.header.model_combo, self.header.prompt_button)
        QWidget.setTabOrder(self.header.prompt_button, self.message_view)
        QWidget.setTabOrder(self.message_view, self.composer.edit)
        QWidget.setTabOrder(self.composer.edit, self.composer.attach_button)
        QWidget.setTabOrder(self.composer.attach_button, self.composer.stop_button)
        QWidget.setTabOrder(self.composer.stop_button, self.composer.send_button)

    def _action(
        self,
        text: str,
        slot: object,
        *shortcuts: QKeySequence | QKeySequence.StandardKey | str,
        scope: QWidget | None = None,
    ) -> QAction:
        """An action whose shortcuts work in the window, or only inside ``scope``."""
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(slot)
        if scope is None:
            self.addAction(action)
        else:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            scope.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.new_thread_action = self._action("&New chat", self.on_new_thread, "Ctrl+N")
        self.search_action = self._action(
            "&Search chats", self.sidebar.focus_search, "Ctrl+K", "Ctrl+F"
        )
        self.send_action = self._action("&Send", self.on_send_action, "Ctrl+Return", "Ctrl+Enter")
        # Esc stops a reply only from the chat side: elsewhere it closes editors, clears search.
        self.stop_action = self._action("S&top reply", self.on_stop, "Esc", scope=self.chat_pane)
        self.stop_action.setEnabled(False)
        self.rename_action = self._action("&Rename chat", self.on_rename, "F2")
        self.pin_action = self._action("&Pin / unpin chat", self.on_toggle_pin, "Ctrl+Shift+P")
        self.delete_action = self._action(
            "&Delete chat",
            self.on_delete_current,
            QKeySequence.StandardKey.Delete,
            scope=self.sidebar.view,
        )
        self.undo_action = self._action("&Undo delete", self.on_undo, QKeySequence.StandardKey.Undo)
        self.undo_action.setEnabled(False)
        self.knowledge_action = self._action(
            "&Knowledge of this chat…", lambda: self.header.knowledge_button.open_dialog()
        )
        self.model_settings_action = self._action(
            "&Model settings of this chat…",
            lambda: self.header.model_settings_button.open_panel(),
            "Ctrl+Shift+M",
        )
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.settings_action = self._action("Se&ttings…", self.on_open_settings, "Ctrl+,")
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.prompts_action = self._action("&Prompts…", self.on_open_prompts)
        self.details_action = self.execution_panel.toggleViewAction()
        self.details_action.setText("Run &details")
        self.details_action.setShortcut(QKeySequence("Ctrl+I"))
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[ThemeMode, QAction] = {}
        for mode, label in (
            (ThemeMode.SYSTEM, "Follow &system"),
            (ThemeMode.LIGHT, "&Light"),
            (ThemeMode.DARK, "&Dark"),
        ):
            action = QAction(label, self, checkable=True)
            action.setChecked(mode is self.theme.mode)
            action.triggered.connect(lambda _checked=False, m=mode: self.on_theme_selected(m))
            self.theme_group.addAction(action)
            self.theme_actions[mode] = action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_thread_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.rename_action)
        edit_menu.addAction(self.pin_action)
        edit_menu.addAction(self.delete_action)
        chat_menu = bar.addMenu("&Chat")
        chat_menu.addAction(self.send_action)
        chat_menu.addAction(self.stop_action)
        chat_menu.addAction(self.knowledge_action)
        chat_menu.addAction(self.model_settings_action)
        chat_menu.addSeparator()
        chat_menu.addAction(self.prompts_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.search_action)
        view_menu.addAction(self.details_action)
        theme_menu = view_menu.addMenu("&Theme")
        for action in self.theme_actions.values():
            theme_menu.addAction(action)

    def _connect_signals(self) -> None:
        # change bus -> models and panels
        self.bridge.thread_changed.connect(self.thread_model.on_thread_changed)
        self.bridge.message_changed.connect(self.thread_model.on_message_changed)
        self.bridge.message_changed.connect(self.message_model.on_message_changed)
        self.bridge.execution_changed.connect(self.message_model.on_execution_changed)
        self.bridge.message_changed.connect(self.execution_panel.on_message_changed)
        self.bridge.execution_changed.connect(self.execution_panel.on_execution_changed)
        self.bridge.execution_log_changed.connect(self.execution_panel.on_log_changed)
        self.bridge.thread_changed.connect(self.on_thread_changed)
        self.bridge.thread_changed.connect(self.header.on_thread_changed)
        # preferences, wherever they change
        self.settings.changed.connect(self.on_setting_changed)
        # thread header, model setup and local servers
        self.header.rename_requested.connect(self.on_rename)
        self.header.error.connect(self.notices.error)
        self.setup_card.settings_requested.connect(self.on_open_settings)
        self.setup_card.use_server_requested.connect(self.on_use_local_server)
        self.probe.finished.connect(self.header.set_local_servers)
        # sidebar
        self.sidebar.current_thread_changed.connect(self.on_thread_selected)
        self.sidebar.new_thread_requested.connect(self.on_new_thread)
        self.sidebar.rename_requested.connect(self.sidebar.start_rename)
        self.sidebar.pin_toggle_requested.connect(self.on_toggle_pin)
        self.sidebar.delete_requested.connect(self.on_delete)
        self.sidebar.search.returnPressed.connect(self.on_search_return)
        # message search
        self.sidebar.search.textChanged.connect(self.search_panel.set_query)
        self.bridge.message_changed.connect(self.search_panel.on_message_changed)
        self.bridge.thread_changed.connect(self.search_panel.on_thread_changed)
        self.search_panel.message_chosen.connect(self.on_search_result_chosen)
        self.thread_model.rename_failed.connect(self.on_rename_failed)
        self.thread_model.rename_busy.connect(self.on_rename_busy)
        # chat
        self.message_view.version_switcher.failed.connect(self.notices.error)
        self.bridge.thread_changed.connect(self.message_model.on_thread_changed)
        self.message_view.branch_requested.connect(self.branch_actions.branch)
        self.message_view.delete_requested.connect(self.branch_actions.delete)
        self.message_view.origin_requested.connect(self.on_search_result_chosen)
        self.message_model.activity_changed.connect(self.on_activity_changed)
        self.message_model.rowsInserted.connect(self._update_empty_state)
        self.message_model.rowsRemoved.connect(self._update_empty_state)
        self.message_model.modelReset.connect(self._update_empty_state)
        self.message_view.link_activated.connect(self.on_link_activated)
        self.message_view.retry_requested.connect(self.on_retry)
        self.message_view.current_message_changed.connect(self.on_message_selected)
        self.execution_panel.visibilityChanged.connect(self.on_details_shown)
        self.message_view.details_requested.connect(self.on_details_requested)
        # composer
        self.composer.send_requested.connect(self.on_send)
        self.composer.stop_requested.connect(self.on_stop)
        self.composer.draft_changed.connect(self.on_draft_changed)
        # attachments
        self.composer.attach_requested.connect(self.on_attach)
        self.composer.urls_given.connect(self.attaching.add_urls)
        self.composer.image_given.connect(self.attaching.add_image)
        self.message_drops.urls_dropped.connect(self.attaching.add_urls)
        self.composer.chips.remove_requested.connect(self.attaching.remove)
        self.message_view.attachment_clicked.connect(self.on_attachment_clicked)
        self.message_view.citation_clicked.connect(self.on_citation_clicked)
        self.bubble_thumbnails.ready.connect(self.message_view.update_attachment)
        self.formulas.ready.connect(self.message_view.delegate.on_formulas_ready)
        chips = self.composer.chip_model
        for signal in (chips.rowsInserted, chips.rowsRemoved, chips.modelReset, chips.dataChanged):
            signal.connect(self.on_chips_changed)
        # deletes with undo
        self.toast.action_clicked.connect(self.on_undo)
        self.pending_deletes.committed.connect(self.on_delete_settled)
        self.pending_deletes.restored.connect(self.on_delete_settled)
        self.pending_deletes.failed.connect(self.on_delete_failed)

    def _restore_settings(self) -> None:
        s = self.settings
        self.apply_font_size(s.font_size)
        geometry = s.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self._default_geometry()
        state = s.window_state
        if state is not None:
            self.restoreState(state)
        splitter = s.splitter_state
        if splitter is None or not self.splitter.restoreState(splitter):
            self.splitter.setSizes([290, 890])
        last = s.last_thread_id
        if last is None or not self.sidebar.select_thread(last):
            ids = self.thread_model.thread_ids()
            if ids:
                self.sidebar.select_thread(ids[0])

    def set_sync_online(self, online: bool) -> None:
        """Whether this desktop hears the others on a shared database: a quiet line under
        the chat's header while it does not (it reconnects by itself)."""
        self.sync_status.setVisible(not online)

    def set_engine_starting(self, starting: bool) -> None:
        """Whether the crew worker is (re)starting: replies waiting for it say so."""
        delegate = self.message_view.delegate
        if delegate.engine_starting != starting:
            delegate.engine_starting = starting
            self.message_view.viewport().update()

    def show_tool_question(self, pending: PendingApproval | None) -> None:
        """Ask about this tool call above the composer (None: nothing waits); its reply
        says it waits for the person."""
        self.tool_approval.show_request(pending)
        delegate = self.message_view.delegate
        reply_id = pending.reply_id if pending is not None else None
        if delegate.awaiting_approval != reply_id:
            delegate.awaiting_approval = reply_id
            self.message_view.viewport().update()

    def on_engine_ready(self, _ready: object) -> None:
        self.set_engine_starting(False)

    def on_engine_restarting(self, _why: str) -> None:
        self.set_engine_starting(True)  # a new worker is already on its way

    def _place_details(self) -> Callable[[], None] | None:
        """Dock Run details beside the chat when both fit; else float it over the chat.

        Docked at a width the window has room for, it never makes the window grow (a
        QMainWindow widens itself to fit a dock's minimum, off a small screen).
        """
        dock = self.execution_panel
        if dock.isFloating():
            return None  # where the person put it
        chat_min = self.chat_pane.minimumSizeHint().width() + self.splitter.handleWidth()
        sidebar = self.sidebar.width()
        if sidebar > SIDEBAR_BESIDE_DETAILS and self.width() - sidebar - CHAT_BESIDE_DETAILS < (
            TRACE_PREFERRED_WIDTH
        ):
            # The chat list gives up some width first (down to a readable minimum).
            total = sum(self.splitter.sizes())
            narrower = max(
                SIDEBAR_BESIDE_DETAILS,
                self.width() - CHAT_BESIDE_DETAILS - TRACE_PREFERRED_WIDTH,
            )
            if narrower < sidebar:
                self.splitter.setSizes([narrower, total - narrower])
                sidebar = narrower
        if self.width() - sidebar - chat_min >= TRACE_MIN_WIDTH:
            room = self.width() - sidebar - max(chat_min, CHAT_BESIDE_DETAILS)
            width = min(TRACE_PREFERRED_WIDTH, max(TRACE_MIN_WIDTH, room))
            return lambda: self.resizeDocks([dock], [width], Qt.Orientation.Horizontal)
        dock.setFloating(True)
        frame = self.geometry()
        width = min(TRACE_PREFERRED_WIDTH, max(TRACE_MIN_WIDTH, frame.width() // 2))
        dock.setGeometry(frame.right() - width - 12, frame.top() + 56, width, frame.height() - 80)
        return None

    def _default_geometry(self) -> None:
        """1180x760, or 90% of a smaller screen, centred."""
        screen = self.screen().availableGeometry()
        width = min(1180, int(screen.width() * 0.9))
        height = min(760, int(screen.height() * 0.9))
        self.resize(width, height)
        self.move(screen.center() - self.rect().center())

    # -- state -----------------------------------------------------------------------

    @property
    def current_thread_id(self) -> int | None:
        return self._thread_id

    def _update_title(self) -> None:
        record = self.thread_model.record(self._thread_id) if self._thread_id else None
        self.setWindowTitle(f"{record.title} — {APP_TITLE}" if record else APP_TITLE)

    def _update_empty_state(self, *_args: object) -> None:
        if self._thread_id is not None and self.message_model.rowCount() > 0:
            self.message_stack.setCurrentWidget(self.message_view)
            return
        self.empty_hint.setText(NO_THREAD_HINT if self._thread_id is None else EMPTY_THREAD_HINT)
        needs_setup = not configured_model(self.settings)
        self.setup_card.setVisible(needs_setup)
        if needs_setup and self.probe.servers is None:
            self.probe.start()  # in the background; the card fills in when it answers
        self.message_stack.setCurrentWidget(self.empty_page)

    def perform(self, key: Hashable, action: Callable[[], object]) -> None:
        """Run a person's write: a busy database is tried again (saying so meanwhile),
        any other failure is told in a toast. ``key`` names it (``BusyRetry``)."""
        self.busy_retry.run(
            key, action, lambda error: self.notices.error(str(error)), self.notices.waiting
        )

    # -- threads ---------------------------------------------------------------------

    def open_thread(self, thread_id: int) -> None:
        """Open ``thread_id`` as if the person had picked it in the list."""
        self.sidebar.select_thread(thread_id)

    def on_thread_selected(self, thread_id: int) -> None:
        new = thread_id or None
        if new == self._thread_id:
            return
        self.composer.flush_draft()
        self._thread_id = new
        self.message_model.load_thread(new)
        record = self.thread_model.record(new) if new else None
        self.header.set_thread(record)
        self.composer.set_text(self._draft_of(record) if record else "")
        self.attaching.switch(new)
        self.composer.clear_error()
        self._selected_message_id = 0
        self.execution_panel.set_message(None)
        self.settings.last_thread_id = new
        self._update_title()
        self._update_empty_state()
        self.on_activity_changed()
        self.thread_opened.emit(new or 0)

    def on_thread_changed(self, change: Change) -> None:
        if change.id != self._thread_id:
            return
        if change.kind is not ChangeKind.DELETED:
            self._update_title()
        else:  # deleted on another desktop while open here: show what the list shows now
            self.on_thread_selected(self.sidebar.current_thread_id() or 0)

    def on_new_thread(self) -> None:
        """Open a fresh chat; an already empty "New chat" is reused rather than piled up."""
        current = self.thread_model.record(self._thread_id) if self._thread_id else None
        if (
            current is not None
            and current.title == DEFAULT_TITLE
            and not self.message_model.rowCount()
        ):
            self.composer.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return

        def create() -> None:
            record = self.services.threads.create(self.user_id, crew=self.settings.default_crew)
            self.sidebar.select_thread(record.id)
            self.composer.setFocus(Qt.FocusReason.ShortcutFocusReason)

        self.perform("new thread", create)

    def on_search_return(self) -> None:
        index = self.sidebar.model.index(0, 0)
        if index.isValid():
            self.sidebar.view.setCurrentIndex(index)
            self.composer.setFocus(Qt.FocusReason.ShortcutFocusReason)
        elif self.search_panel.choose_first():
            self.search_panel.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def on_search_result_chosen(self, thread_id: int, message_id: int) -> None:
        """Open the thread at a found message, however far back, and flash it."""
        if thread_id != self._thread_id and not self.sidebar.open_thread(thread_id):
            self.notices.error("That chat is no longer available.")
            return
        try:
            self.message_model.load_around(message_id)
        except ServiceError:
            self.notices.error("That message is no longer available.")
            self.search_panel.refresh()
            return
        self._update_empty_state()
        self.message_view.reveal_message(message_id)

    def on_rename(self) -> None:
        if self._thread_id is not None:
            self.sidebar.start_rename(self._thread_id)

    def on_rename_failed(self, _thread_id: int, reason: str) -> None:
        self.notices.error(reason)

    def on_rename_busy(self, thread_id: int, title: str) -> None:
        """An inline rename met a busy database: try again, and name the title if it fails."""
        self.busy_retry.run(
            ("rename", thread_id),
            lambda: self.services.threads.rename(self.user_id, thread_id, title),
            lambda error: self.notices.error(f"The chat was not renamed to “{title}”. {error}"),
            self.notices.waiting,
        )

    def on_toggle_pin(self, thread_id: int | None = None) -> None:
        target = thread_id or self._thread_id
        record = self.thread_model.record(target) if target else None
        if record is None:
            return
        pinned = not record.pinned
        self.perform(
            ("pin", record.id),
            lambda: self.services.threads.update(self.user_id, record.id, pinned=pinned),
        )

    def on_delete_current(self) -> None:
        if self._thread_id is not None:
            self.on_delete(self._thread_id)

    def on_delete(self, thread_id: int) -> None:
        """Hide the thread now; the database delete happens when Undo expires."""
        if thread_id == self._thread_id:
            self.composer.flush_draft()
        if not self.thread_model.hide(thread_id):
            return
        self.search_panel.drop_thread(thread_id)
        self.pending_deletes.schedule(thread_id)
        self.undo_action.setEnabled(True)
        self.toast.show_message("Chat deleted", "Undo", self.pending_deletes.timeout_ms)

    def on_undo(self) -> None:
        if self.branch_actions.undo():  # a message branch deleted last
            return
        thread_id = self.pending_deletes.undo_last()
        if thread_id is None:
            return
        self.thread_model.unhide(thread_id)
        self.sidebar.select_thread(thread_id)
        self.search_panel.refresh()
        self.toast.hide()

    def on_delete_settled(self, _thread_id: int) -> None:
        remaining = bool(self.pending_deletes.pending())
        self.undo_action.setEnabled(remaining)
        if not remaining:
            self.toast.hide()

    def on_delete_failed(self, thread_id: int, reason: str) -> None:
        self.thread_model.unhide(thread_id)
        self.on_delete_settled(thread_id)
        self.notices.error(f"Could not delete the chat: {reason}")

    # -- sending and runs ------------------------------------------------------------

    def on_send_action(self) -> None:
        self.composer.on_submit()

    def on_send(self, text: str) -> None:
        """Send the composer's text and ready files to the open thread (creating one if
        none is open).

        A busy database is tried again for a few seconds (``BusyRetry``) while the
        composer says so; any failure leaves the text and the chips in the composer
        with the reason. A file still being added stops the send with a word rather
        than holding it: the person sees why and decides (a queued send could go out
        long after, or with a file that then fails).
        """
        adding = self.attaching.adding()
        if adding:
            self.composer.show_error(f"Still attaching {adding[0]}; send when it is ready.")
            return
        files = self.attaching.ready()
        try:
            self.services.conversation.check(text, len(files))
        except ValidationError as error:
            self.composer.show_error(str(error))
            return
        if self.busy_retry.is_waiting(_SEND):
            self.composer.show_error("Still sending your previous message…")
            return
        outgoing = Outgoing(text, self._thread_id, attachments=files)
        self.busy_retry.run(
            _SEND,
            lambda: self._send(outgoing),
            lambda error: self._send_failed(outgoing, error),
            lambda waiting: self._send_waiting(outgoing, waiting),
        )

    def _send(self, outgoing: Outgoing) -> None:
        """One attempt (``ConversationService.send``), then what the window shows of it."""
        if outgoing.thread_id is not None and outgoing.thread_id == self._thread_id:
            self.message_model.jump_to_newest()  # a window far back: the reply shows below
        sent = self.services.conversation.send(
            self.user_id, outgoing, crew=self.settings.default_crew
        )
        self._open_new_thread(outgoing)
        thread_id = sent.message.thread_id
        if thread_id != self._thread_id:
            self._save_draft(thread_id, "")
        elif self.composer.text() == outgoing.text:  # not what was typed after coming back
            self.composer.set_text("")
            self._save_draft(thread_id, "")
        self.attaching.sent(outgoing.attachments)
        if thread_id == self._thread_id:
            self.message_view.scroll_to_end()

    def _send_waiting(self, outgoing: Outgoing, waiting: str) -> None:
        if outgoing.thread_id == self._thread_id:
            self.composer.set_waiting(waiting)

    def _send_failed(self, outgoing: Outgoing, error: ServiceError) -> None:
        """Say why; the text stays in the composer (or as its chat's draft, if it moved)."""
        self._open_new_thread(outgoing)
        kept = " Your message is kept here." if isinstance(error, StorageError) else ""
        if outgoing.thread_id == self._thread_id:
            self.composer.set_waiting(None)
            self.composer.show_error(f"{error}{kept}")
            return
        if outgoing.thread_id is not None:
            self._save_draft(outgoing.thread_id, outgoing.text)
            kept = " It is kept as that chat's draft." if kept else ""
        self.notices.error(f"Your message was not sent. {error}{kept}")

    def _open_new_thread(self, outgoing: Outgoing) -> None:
        """Open the thread a send created, if no chat was opened meanwhile; what the
        composer holds stays (it is the text being sent)."""
        if not outgoing.created_thread or self._thread_id is not None:
            return
        assert outgoing.thread_id is not None
        self.composer.flush_draft()
        text = self.composer.text()
        self.sidebar.select_thread(outgoing.thread_id)
        self.composer.set_text(text)

    # -- attachments -----------------------------------------------------------------

    def choose_attachment_paths(self) -> list[str]:
        """Ask which files to attach (a dialog); tests replace this method."""
        paths, _filter = QFileDialog.getOpenFileNames(self, "Attach files", "", "All files (*)")
        return paths

    def on_attach(self) -> None:
        paths = self.choose_attachment_paths()
        if paths:
            self.attaching.add_paths(paths)

    def on_attachment_clicked(self, message_id: int, attachment_id: int) -> None:
        """Open a file a message carries (only its stored copy, found by id)."""
        row = self.message_model.row_of(message_id)
        files = self.message_model.record(row).attachments if row is not None else ()
        for record in files:
            if record.id == attachment_id:
                self.opener.open(record)
                return

    def on_citation_clicked(self, message_id: int, number: int) -> None:
        """Open the document a reply cites at its place: only a file of the question the
        reply answers or of the chat's knowledge, by id and name (its metadata may come
        from an imported file, whose files got new ids: then by name alone, when one
        file has it)."""
        row = self.message_model.row_of(message_id)
        if row is None:
            return
        reply = self.message_model.record(row)
        links = citations_of(reply.metadata)
        if not 0 <= number < len(links) or reply.parent_id is None:
            return
        try:
            files = self.services.attachments.for_message(self.user_id, reply.parent_id)
            files += self.services.knowledge.list(self.user_id, reply.thread_id)
        except ServiceError as error:
            self.notices.error(f"{links[number].name} cannot be opened: {error}")
            return
        link = links[number]
        named = [record for record in files if record.file_name == link.name]
        if any(record.id == link.attachment for record in named):
            self.citation_opener.open(link)
        elif len(named) == 1:  # a chat imported elsewhere: its files have new ids
            self.citation_opener.open(dataclasses.replace(link, attachment=named[0].id))
        else:
            self.notices.error(f"{link.name} is not a file of this question or chat.")

    def on_chips_changed(self, *_args: object) -> None:
        self.composer.set_file_count(self.composer.chip_model.counted())

    def on_reply_save_failed(self, _execution_id: int, reason: str) -> None:
        """The end of a reply could not be stored: say so, as its text is only on screen."""
        self.notices.error(
            f"A reply could not be saved: {reason} Its text stays on screen until chatdesk "
            "closes; copy what you need."
        )

    def on_stop(self) -> None:
        execution_id = self.message_model.active_execution_id()
        if execution_id is not None:
            self.stop_requested.emit(execution_id)

    def on_retry(self, message_id: int) -> None:
        def retry() -> None:
            self.services.conversation.retry(self.user_id, message_id)
            self.retry_requested.emit(message_id)

        self.perform(("retry", message_id), retry)

    def on_activity_changed(self) -> None:
        busy = self.message_model.is_active()
        self.composer.set_busy(busy)
        self.stop_action.setEnabled(busy)

    def on_message_selected(self, message_id: int) -> None:
        """The Run details follow the selected message. While they are hidden, their
        reading waits until they are shown: a version flip selects the new version, and
        its frame should not pay for a panel nobody sees."""
        self._selected_message_id = message_id
        if self.execution_panel.isVisible():
            self._show_selected_runs()

    def _show_selected_runs(self) -> None:
        message_id = self._selected_message_id
        row = self.message_model.row_of(message_id) if message_id else None
        self.execution_panel.set_message(
            self.message_model.record(row) if row is not None else None
        )

    def on_details_shown(self, visible: bool) -> None:
        if visible:
            self._show_selected_runs()

    def on_details_requested(self, message_id: int) -> None:
        """Show Run details for this message (its tools line was clicked)."""
        self.message_view.select_message(message_id)
        self.on_message_selected(message_id)
        if not self.execution_panel.isVisible():
            self.details_action.trigger()

    def on_link_activated(self, url: str) -> None:
        """Open a clicked link only if it is a web link; never anything else."""
        if is_openable_url(url):
            QDesktopServices.openUrl(QUrl(url))
        else:
            self.notices.error("Only web links (http, https) open from a chat.")

    # -- drafts ----------------------------------------------------------------------

    def on_draft_changed(self, text: str) -> None:
        if self._thread_id is not None:
            self._save_draft(self._thread_id, text)

    def _save_draft(self, thread_id: int, text: str) -> None:
        """Save a draft; one the database refuses is kept here and shown when its chat
        opens again (switching chats on a full disk must not lose what was typed)."""
        if self.thread_model.is_hidden(thread_id):
            return
        try:
            self.services.threads.update(self.user_id, thread_id, draft=text)
        except ServiceError as error:
            log.warning("could not save the draft of thread %s: %s", thread_id, error)
            self._unsaved_drafts[thread_id] = text
        else:
            self._unsaved_drafts.pop(thread_id, None)

    def _draft_of(self, record: ThreadRecord) -> str:
        return self._unsaved_drafts.get(record.id, record.draft)

    # -- appearance ------------------------------------------------------------------

    def on_theme_selected(self, mode: ThemeMode) -> None:
        self.settings.theme = mode
        self._show_theme()

    def _show_theme(self) -> None:
        """Paint in the theme the settings name (nothing to do when it is shown)."""
        mode = self.settings.theme
        if mode is not self.theme.mode:
            self.theme.apply(mode)
            self.sidebar.view.viewport().update()
        self.theme_actions[mode].setChecked(True)

    def apply_font_size(self, points: int) -> None:
        """The text size of the whole window in points, 0 for the platform's default."""
        set_text_size(points)
        self.message_view.delegate.clear_cache()
        self.message_view.scheduleDelayedItemsLayout()
        self.composer.edit.updateGeometry()

    # -- settings --------------------------------------------------------------------

    def on_open_settings(self) -> SettingsDialog:
        """Open the Settings dialog (window-modal; returns it for tests and scripts)."""
        dialog = SettingsDialog(
            self.settings, list_crews(data_dir()), self.probe, self, tasks=self.tasks
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.saved.connect(self.on_settings_saved)
        dialog.open()
        return dialog

    def on_open_prompts(self) -> PromptsDialog:
        """Open the prompt library (window-modal; returns it for tests and scripts)."""
        dialog = PromptsDialog(self.services.prompts, self.user_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.open()
        return dialog

    def on_settings_saved(self) -> None:
        """The Settings dialog saved: the crews it lists may have changed on disk too
        (each changed preference is followed through ``on_setting_changed``)."""
        self.header.set_crews(list_crews(data_dir()))

    def on_setting_changed(self, key: str) -> None:
        """Follow a preference that took a new value, wherever it was set."""
        if key == preferences.THEME.key:
            self._show_theme()
        elif key == preferences.FONT_SIZE.key:
            self.apply_font_size(self.settings.font_size)
        elif key in preferences.MODEL_KEYS:
            self._update_empty_state()

    def on_use_local_server(self, server: LocalServer) -> None:
        """Make a model server found on this computer the default (one click)."""
        self.settings.use_local_server(server)
        self.notices.info(f"Replies now come from {server.label} ({self.settings.model}).")

    # -- closing ---------------------------------------------------------------------

    def shutdown(self) -> None:
        """Save the draft and settings, finish pending deletes and close the background
        tasks (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        self.busy_retry.cancel_all()
        self.composer.flush_draft()
        for thread_id, text in list(self._unsaved_drafts.items()):  # a last try
            self._save_draft(thread_id, text)
        self.pending_deletes.commit_all()
        s = self.settings
        s.geometry = self.saveGeometry()
        s.window_state = self.saveState()
        s.splitter_state = self.splitter.saveState()
        s.last_thread_id = self._thread_id
        s.sync()
        self.tasks.close()  # an import stops and removes what it wrote; nothing more arrives
        self.bridge.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
