"""``python -m chatdesk`` starts the app, like the ``chatdesk`` command."""

from chatdesk.app import main

raise SystemExit(main())
