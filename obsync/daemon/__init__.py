"""``obsync run``: the daemon that keeps syncing as the export folder changes.

``loop`` runs the syncs (timers, events, rescans, the observer's health); ``watch`` turns
the OS's file events into debounced batches, each file on its own clock; ``settle`` says
which files a sync must not read yet; ``notify`` speaks systemd's sd_notify.
"""
