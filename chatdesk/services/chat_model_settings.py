"""Use cases on a chat's own model settings: read them, set them, reset them.

Why on the thread row (``threads.model_settings``, JSON of the set values only): the
settings belong to one chat, go with it when it is deleted, copied or exported, and
are read once per run. Values are checked by :mod:`chatdesk.model_params` before any
write, so the store never holds one a run would refuse. Setting a chat's values does
not move it in the chat list (no new activity).
"""

from __future__ import annotations

from chatdesk.model_params import ModelParamError, ModelParams
from chatdesk.services.errors import ValidationError
from chatdesk.services.threads import thread_updated
from chatdesk.services.unit_of_work import UnitOfWork, owned_thread
from chatdesk.store.models import Thread


def stored(params: ModelParams) -> dict[str, object] | None:
    """What the column holds for ``params``: NULL when every value is the default."""
    return None if params.is_empty else params.to_dict()


def loaded(value: object) -> ModelParams:
    """The settings a column holds; a row broken by hand reads as the defaults."""
    try:
        return ModelParams.from_dict(value)
    except ModelParamError:
        return ModelParams()


def of_thread(thread: Thread) -> ModelParams:
    return loaded(thread.model_settings)


class ChatModelSettingsService:
    """The model settings of one user's chats; every call names the acting user."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def get(self, user_id: int, thread_id: int) -> ModelParams:
        """The chat's own values (unset: ``None``, its crew's or the provider's default)."""
        with self._uow.read() as session:
            return of_thread(owned_thread(session, user_id, thread_id))

    def set(self, user_id: int, thread_id: int, params: ModelParams) -> ModelParams:
        """Store ``params`` as the chat's values (all unset: back to the defaults).

        Publishes the thread's change (``fields={"model_settings": ...}``) after the
        commit; values already stored publish nothing. A locked database raises
        ``StorageError`` and the stored values stay as they were.
        """
        if not isinstance(params, ModelParams):
            raise ValidationError("Model settings: expected ModelParams.")
        with self._uow.write() as (session, changes):
            thread = owned_thread(session, user_id, thread_id)
            if of_thread(thread) == params:
                return params
            thread.model_settings = stored(params)
            session.flush()
            changes.append(thread_updated(thread, {"model_settings": params.to_dict()}))
        return params
