"""The Obsidian vault: everything obsync knows of notes and how it touches them.

``listing`` is the one walk of the vault's folders (names only) and the names of obsync's
own files (conflict copies, writes in progress); ``read`` is the one reader (notes found
by key); ``names`` gives new notes and pictures free, safe names; ``note`` is a note's
anatomy (frontmatter, generated body, marker line, the user's text); ``render`` makes the
generated part; ``write`` is the only writer; ``base`` the Obsidian Base, written once.
"""
