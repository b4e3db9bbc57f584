"""Where a streaming answer lives while it is being generated (design-notes §1)."""
