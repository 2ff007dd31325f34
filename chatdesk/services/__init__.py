"""Use cases the window drives: plain Python over the store, no widgets, no sessions leaked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatdesk import config
from chatdesk.services.attachment_files import AttachmentFiles
from chatdesk.services.attachments import AttachmentService
from chatdesk.services.branches import BranchService
from chatdesk.services.chat_model_settings import ChatModelSettingsService
from chatdesk.services.conversation import ConversationService
from chatdesk.services.document_texts import DIR_NAME as DOCUMENT_TEXTS_DIR
from chatdesk.services.document_texts import DocumentTexts
from chatdesk.services.events import ChangeBus
from chatdesk.services.executions import ExecutionService
from chatdesk.services.importing import ImportService
from chatdesk.services.knowledge import KnowledgeService
from chatdesk.services.messages import MessageService
from chatdesk.services.prompts import PromptService
from chatdesk.services.reply_notes import ReplyNotes
from chatdesk.services.run_owner import RunOwner, this_process
from chatdesk.services.search import SearchService
from chatdesk.services.threads import ThreadService
from chatdesk.services.tool_rules import ToolRuleService
from chatdesk.services.transfer import TransferService
from chatdesk.services.unit_of_work import UnitOfWork
from chatdesk.services.usage import UsageService
from chatdesk.services.users import UserService
from chatdesk.store.migrate import Store


@dataclass
class Services:
    """Every service over one store, sharing one change bus."""

    store: Store
    bus: ChangeBus = field(default_factory=ChangeBus)
    owner: RunOwner = field(default_factory=this_process)
    """The client process the runs it starts belong to (see ``services.leases``)."""
    attachments_dir: Path = field(default_factory=config.attachments_dir)
    """Where attached files are stored: ``<data dir>/attachments`` unless told."""

    def __post_init__(self) -> None:
        uow = UnitOfWork(self.store.session_factory, self.bus, self.owner)
        self.users = UserService(uow)
        self.attachments = AttachmentService(uow, AttachmentFiles(self.attachments_dir))
        self.document_texts = DocumentTexts(self.attachments_dir.parent / DOCUMENT_TEXTS_DIR)
        self.threads = ThreadService(uow, self.attachments)
        self.knowledge = KnowledgeService(uow, self.attachments)
        self.tool_rules = ToolRuleService(uow)
        self.chat_model_settings = ChatModelSettingsService(uow)
        self.prompts = PromptService(uow)
        self.messages = MessageService(uow, self.attachments)
        self.branches = BranchService(uow)
        self.executions = ExecutionService(uow)
        self.usage = UsageService(uow)
        self.reply_notes = ReplyNotes(uow)
        self.search = SearchService(uow)
        self.transfer = TransferService(uow, self.attachments)
        self.imports = ImportService(uow, self.transfer)
        self.conversation = ConversationService(self.threads, self.messages)
