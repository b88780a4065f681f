"""Reading Zotero's export folder: the folder (folder.py), one file (read.py) in its format
(formats/), and many files' annotations as one (merge.py)."""
