"""The real app as a second desktop that watches: it chats with nobody itself.

``python -m tests.support.watch_harness DATA_DIR`` builds ``chatdesk.app.ChatdeskApp``
(the database from ``CHATDESK_DATABASE_URL``; no crew worker is started), shows the
window and prints what the window shows as it changes, one line each:

- ``ready`` once the window is up and hears the other desktops (``online``),
- ``thread <id>`` when a chat appears in the thread list (it is opened at once),
- ``message <id> <role> <status> <length of the text>`` when a row of the open chat
  appears or changes,
- ``gone <id>`` when a chat leaves the thread list,
- ``online True|False`` when the connection hearing the others is lost or back.

Commands on stdin: ``stop`` presses the window's Stop (the open chat's running reply),
``delete <thread id>`` deletes a chat, ``quit`` closes the app (``closed`` is printed).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["CHATDESK_DATA_DIR"] = sys.argv[1]
    import qasync
    from PySide6.QtCore import QModelIndex
    from PySide6.QtWidgets import QApplication

    from chatdesk.app import ChatdeskApp, prepare_data_dir
    from chatdesk.config import data_dir, database_url
    from chatdesk.ui.chat.message_model import MessageRoles
    from chatdesk.ui.tasks import gui_thread_calls

    qt_app = QApplication(sys.argv[:1])
    if not prepare_data_dir(data_dir(create=False), database_url(data_dir(create=False))):
        sys.exit(2)
    loop = qasync.QEventLoop(qt_app, already_running=True)
    asyncio.set_event_loop(loop)
    directory: Path = data_dir()
    from chatdesk.store.migrate import open_store

    app = ChatdeskApp(open_store(database_url(directory)), directory)
    window = app.window
    threads = window.thread_model
    messages = window.message_model
    shown: dict[int, tuple[str, str, int]] = {}
    listed: set[int] = set()

    def say(line: str) -> None:
        print(line, flush=True)

    def look_at_threads(*_args: object) -> None:
        ids = set(threads.thread_ids())
        for thread_id in sorted(ids - listed):
            say(f"thread {thread_id}")
            window.on_thread_selected(thread_id)
        for thread_id in sorted(listed - ids):
            say(f"gone {thread_id}")
        listed.clear()
        listed.update(ids)

    def look_at_messages(*_args: object) -> None:
        for row in range(messages.rowCount()):
            index = messages.index(row, 0, QModelIndex())
            message_id = int(index.data(MessageRoles.MessageId))
            state = (
                str(index.data(MessageRoles.Role)),
                str(index.data(MessageRoles.Status)),
                len(str(index.data(MessageRoles.Content) or "")),
            )
            if shown.get(message_id) != state:
                shown[message_id] = state
                say(f"message {message_id} {state[0]} {state[1]} {state[2]}")

    for signal in (threads.rowsInserted, threads.rowsRemoved, threads.modelReset):
        signal.connect(look_at_threads)
    for signal in (messages.rowsInserted, messages.dataChanged, messages.modelReset):
        signal.connect(look_at_messages)

    def online(state: bool) -> None:
        say(f"online {state}")

    app.live.on_state(lambda state: gui_thread_calls().post(lambda: online(state)))
    if app.live.online is not None:  # it may have connected before the line above
        online(app.live.online)

    def command(line: str) -> None:
        words = line.split()
        if words == ["stop"]:
            window.on_stop()
        elif len(words) == 2 and words[0] == "delete":
            app.services.threads.delete(app.user_id, int(words[1]))
        elif words == ["quit"]:
            qt_app.quit()

    def read_commands() -> None:
        for line in sys.stdin:
            gui_thread_calls().post(lambda line=line: command(line))
        gui_thread_calls().post(qt_app.quit)

    def close() -> None:
        app.close()
        say("closed")

    qt_app.aboutToQuit.connect(close)
    app.show()
    look_at_threads()
    threading.Thread(target=read_commands, daemon=True).start()
    say("ready")
    qt_app.exec()


if __name__ == "__main__":
    main()
