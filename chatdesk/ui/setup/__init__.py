"""Settings, provider set-up, start-up dialogs, the store upgrade window and local server probes."""
