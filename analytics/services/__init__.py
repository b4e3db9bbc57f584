"""Analytics writes, one module per topic. Tasks, hooks and commands call these."""
