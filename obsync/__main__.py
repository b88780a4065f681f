from obsync.cli import entry

entry()
