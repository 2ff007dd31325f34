"""The thread list, its header and the undoable deletes."""
