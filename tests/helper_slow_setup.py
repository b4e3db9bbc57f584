"""A module that takes a minute to import: given to a helper to import at setup
(tests/test_helper_pool.py), it keeps the helper setting up, as a busy machine does."""

import time

time.sleep(60)
