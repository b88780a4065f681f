"""What obsync is told: ``config`` (the TOML file and the command line, validated, as one
frozen Settings), ``colors`` (Zotero's colours and their tags), ``templates`` (the
Jinja2 templates of the notes' bodies), ``starter`` (the commented file ``obsync init``
writes)."""
