"""The real app as a separate process that chats on its own, for crash tests.

``python -m tests.support.app_harness DATA_DIR`` builds ``chatdesk.app.ChatdeskApp``
(the same composition root ``chatdesk`` uses: store, migrations, crash recovery,
window, worker process, coordinator; the model from the ``CHATDESK_LLM_*``
environment) and sends messages one after another, as a person would, printing:

- ``recovered N`` at start-up (runs a previous crash left behind),
- ``committed <message id>`` once a sent message's transaction has committed,
- ``worker <pid>`` when the crew worker is ready,
- ``finished <execution id> <status>`` when a reply ends.

With ``HARNESS_DEBUG=1`` it logs at DEBUG to the data directory, as ``chatdesk --debug``
does; with ``HARNESS_REPLIES=N`` it quits after N replies. Like ``chatdesk.app.main``,
SIGTERM and SIGINT quit it gracefully (``aboutToQuit`` closes the app), printing
``closed`` once the app has closed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["CHATDESK_DATA_DIR"] = sys.argv[1]
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from chatdesk.app import ChatdeskApp, prepare_data_dir
    from chatdesk.config import data_dir, database_url
    from chatdesk.private_files import make_tree_private, restrict_new_files
    from chatdesk.quit_signals import QuitOnSignals
    from chatdesk.store.migrate import open_store

    restrict_new_files()  # as chatdesk.app.main does, before anything is written
    qt_app = QApplication(sys.argv[:1])
    if not prepare_data_dir(data_dir(create=False), database_url(data_dir(create=False))):
        sys.exit(2)
    if os.environ.get("HARNESS_DEBUG"):
        import logging

        from chatdesk.logs import configure_logging

        configure_logging(data_dir(), logging.DEBUG)
    replies_left = int(os.environ.get("HARNESS_REPLIES", "0")) or None
    loop = qasync.QEventLoop(qt_app, already_running=True)
    asyncio.set_event_loop(loop)
    directory: Path = data_dir()
    app = ChatdeskApp(open_store(database_url(directory)), directory)
    make_tree_private(directory)  # as chatdesk.app.main does once the database is open
    print(f"recovered {app.recovered}", flush=True)
    quitting = [False]

    def close() -> None:
        quitting[0] = True
        app.close()
        print("closed", flush=True)

    qt_app.aboutToQuit.connect(close)
    quit_signals = QuitOnSignals(qt_app)
    app.show()
    app.start_worker()
    thread = app.services.threads.create(app.user_id, "crash test")
    app.window.on_thread_selected(thread.id)
    count = [0]

    def send() -> None:
        if quitting[0]:
            return
        count[0] += 1
        sent = app.services.messages.send(app.user_id, thread.id, f"Question {count[0]}")
        print(f"committed {sent.message.id}", flush=True)

    def finished(execution_id: int, status: str) -> None:
        nonlocal replies_left
        print(f"finished {execution_id} {status}", flush=True)
        if quitting[0]:
            return
        if replies_left is not None:
            replies_left -= 1
            if replies_left <= 0:
                qt_app.quit()
                return
        QTimer.singleShot(0, send)

    app.worker.worker_ready.connect(lambda event: print(f"worker {event.pid}", flush=True))
    app.coordinator.run_finished.connect(finished)
    send()
    qt_app.exec()
    quit_signals.uninstall()


if __name__ == "__main__":
    main()
