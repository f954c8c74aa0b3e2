"""The ASGI application as a server imports it, in a process of its own."""

from __future__ import annotations

import subprocess
import sys


def test_the_channel_layer_is_made_as_the_application_is_imported_before_any_thread_asks():
    # Channels makes a layer on first use without a lock: two threads asking at once could each make
    # an in-memory layer, and a page's group joined on one would never hear the runs sent on the other.
    code = "import config.asgi; from channels.layers import channel_layers; print(sorted(channel_layers.backends))"
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert made.strip() == "['default']"
