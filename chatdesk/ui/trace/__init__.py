"""A run's trace: its model, columns, text and panel."""
