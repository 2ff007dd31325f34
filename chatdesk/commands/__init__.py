"""chatdesk's sub-commands: work on the history without a window (no Qt, no display).

``chatdesk export --all DIR`` (``export_command``) and ``chatdesk import PATH...``
(``import_command``). ``app.main`` asks ``run`` first, before Qt is imported:
a sub-command runs and its exit code ends the process; anything else opens the window.
Commands sit beside ``app.py``: they use the services, the store and the config, never
the ui (a layer contract in pyproject.toml).

Exit codes, every command alike: 0 done, 2 bad input (one sentence on stderr saying
what and what to do), 3 refused (the database cannot be used now).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

OK = 0
BAD_INPUT = 2
REFUSED = 3

COMMANDS = {
    "export": "chatdesk.commands.export_command",
    "import": "chatdesk.commands.import_command",
}
"""Each sub-command's module; its ``main(args) -> int`` gets the words after its name."""


def run(argv: Sequence[str]) -> int | None:
    """Run the sub-command ``argv`` names; None when it names none (open the window)."""
    if not argv or argv[0] not in COMMANDS:
        return None
    module = importlib.import_module(COMMANDS[argv[0]])
    code: int = module.main(list(argv[1:]))
    return code
