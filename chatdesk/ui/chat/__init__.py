"""The conversation: the message list (model, view, delegate), bubbles, code blocks,
Markdown, the composer and the chat actions."""
