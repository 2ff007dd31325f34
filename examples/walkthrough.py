"""A walk through the store and services on a temporary database.

Run it with ``python examples/walkthrough.py``: it creates a thread, sends messages,
reads them back in pages, edits, moves a message through its lifecycle, shows the
change events, and deletes the thread (the database cascades). Nothing touches your
real chatdesk data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from chatdesk.services import Services
from chatdesk.services.errors import IllegalTransitionError, PermissionDeniedError
from chatdesk.services.events import Change
from chatdesk.store.migrate import open_store
from chatdesk.vocabulary import MessageStatus


class _Printer:
    """Shows every change event the services announce."""

    def on_change(self, change: Change) -> None:
        print(f"    event: {change.entity} {change.id} {change.kind}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="chatdesk-example-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'example.db'}"
        print(f"1. Open (and create at the newest schema) {url}")
        store = open_store(url)
        services = Services(store)
        services.bus.subscribe(_Printer())
        me = services.users.ensure()

        print("2. Create a thread")
        thread = services.threads.create(me, "Trip to Lisbon")

        print("3. Send a message that asks the crew for a reply (message + execution, one go)")
        sent = services.messages.send(me, thread.id, "Plan three days in Lisbon.")
        assert sent.execution is not None
        print(
            f"   message {sent.message.id} is {sent.message.status}, "
            f"execution {sent.execution.id} is {sent.execution.status}"
        )

        print("4. The run starts: the message is processing; the reply streams in")
        services.messages.set_status(me, sent.message.id, MessageStatus.PROCESSING)
        reply = services.messages.add_reply(me, thread.id, sent.execution.id)
        services.messages.edit(me, reply.id, "Day 1: Alfama and the castle…")
        services.messages.set_status(me, sent.message.id, MessageStatus.COMPLETED)

        print("5. An illegal status change is refused")
        try:
            services.messages.set_status(me, sent.message.id, MessageStatus.PENDING)
        except IllegalTransitionError as error:
            print(f"   refused: {error}")

        print("6. Another user cannot read this thread")
        other = services.users.ensure("someone-else")
        try:
            services.messages.list(other, thread.id)
        except PermissionDeniedError as error:
            print(f"   refused: {error}")

        print("7. Read the thread back, newest page first")
        for message in services.messages.list(me, thread.id, limit=10).messages:
            print(f"   [{message.role}/{message.status}] {message.content}")

        print("8. Rename, then list threads (newest first)")
        services.threads.rename(me, thread.id, "Lisbon, three days")
        for listed in services.threads.list(me):
            print(f"   {listed.title} (updated {listed.updated_at:%H:%M:%S} UTC)")

        print("9. Delete the thread: its messages and executions go with it")
        services.threads.delete(me, thread.id)
        print(f"   threads left: {len(services.threads.list(me))}")
        store.close()
    print("Done; the temporary database is gone.")


if __name__ == "__main__":
    main()
