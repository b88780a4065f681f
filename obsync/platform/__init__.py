"""What differs between operating systems: ``system`` (durable writes, the swap of a note,
forking a reader), ``lock`` (one obsync per vault), ``service`` (the systemd unit or
launchd agent ``obsync service`` writes)."""
