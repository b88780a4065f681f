"""obsync: keep an Obsidian vault in step with Zotero annotation exports."""

__version__ = "0.2.0"
