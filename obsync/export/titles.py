"""A paper's title, from what an export file says about it.

The literature note of a paper is named by its title. The readers look for it in
this order, each source ranked (a higher rank wins when files disagree):

1. the annotation data: the item data of the annotation's own citation item
   (``data-annotation``'s ``citationItem.itemData.title``), the note's
   ``data-citation-items``: :data:`FROM_DATA`;
2. the item data of a citation in the file (``data-citation``'s
   ``citationItems[].itemData.title``, matched to the paper by its URI): a copy Zotero made
   when the citation was inserted, as exact as 1 but not this annotation's own, so 1 wins
   where both are: :data:`FROM_CITATION_DATA`;
3. the Better Notes header's ``parent`` (the note's parent item, which need not be the
   paper the annotations are from): :data:`FROM_HEADER`;
4. the file's front matter (``title``, ``aliases``/``alias``, the Jekyll, Hugo and
   Digital Garden fields), a loose ``title:`` line, a Dataview ``Title::`` line:
   :data:`FROM_FILE`;
5. a reference line above the annotations (``Zhao, W. X., … (2023). A Survey of
   Large Language Models. arXiv.``), then the export file's name when it is a
   title: :data:`FROM_REFERENCE`;
6. the citation, "Author, Year", without its page: :data:`FROM_CITATION`.

Only the paper most of a file's annotations belong to takes the file's title (4, 5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from obsync.export.text import is_quoted, strip_quotes

FROM_DATA = 6
FROM_CITATION_DATA = 5
FROM_HEADER = 4
FROM_FILE = 3
FROM_REFERENCE = 2
FROM_CITATION = 1

# A citation's locator: ", p. 5", ", pp. 5-7", ", page 2", ", S. 12", and the Russian
# for "page" (written as escapes: Cyrillic letters look Latin).
LOCATOR = re.compile(
    r",\s*(?:pp?\.|pages?\b|pgs?\.|S\.|\u0441\.|\u0441\u0442\u0440\.|str\.|p\.?\s*(?=\d))\s*[^,;]*$",
    re.IGNORECASE,
)
# Front matter fields that name a page, in the order they are trusted.
_FIELDS = ("title", "dg-title", "aliases", "alias", "name")
# Note titles that name no paper: Zotero's "Annotations" heading in its languages, and the like.
_GENERIC = re.compile(
    r"^(?:annotations?|anmerkungen|annotationen|anotações|anotaciones|annotazioni|"
    r"аннотации|注释|注釋|批注|주석|메모|notes?|untitled|highlights?|export(?:ed)?)"
    r"[\s\d/.,:;()\[\]_\-–APMapm]*$",  # alone, or with the date Zotero adds
    re.IGNORECASE,
)
_LOOSE_TITLE = re.compile(r"^[ \t]*title[ \t]*:[ \t]*(\S.*?)[ \t]*\r?$", re.IGNORECASE | re.M)
_DATAVIEW_TITLE = re.compile(
    r"^[ \t]*(?:[-*][ \t]+)?title[ \t]*::[ \t]*(\S.*?)[ \t]*\r?$", re.I | re.M
)
# APA: "Zhao, W. X., Zhou, K., … (2023, November 24). A Survey of Large Language Models. arXiv."
_APA = re.compile(
    r"\(\s*(?:\d{4}[a-z]?|n\.\s?d\.)[^()]{0,40}\)\.\s+(?P<title>[^\n]{3,300}?)[.?!](?:\s|$)"
)
# MLA and Chicago: Author. “Title.” Journal …
_QUOTED = re.compile(r"^[^“\"\n]{2,200}?[.,]\s+[“\"](?P<title>[^”\"\n]{3,300}?)[.,]?[”\"]")
# Better Notes' file names: the note's title with "-" for spaces, then "-" and the note's key.
_BN_NAME = re.compile(r"^(?P<title>.+)-[A-Z0-9]{8}$")
_JUNK_LABEL = re.compile(r"(?:cite|citation|ref|reference|source|link|zotero|pdf)?", re.I)
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}[-_ ]")


def citation_title(citation: str) -> str:
    """``Zhao et al., 2023, p. 1`` -> ``Zhao et al., 2023``; ``“Title”, p. 3`` -> ``Title``."""
    short = LOCATOR.sub("", citation.split(";")[0]).strip()
    if _JUNK_LABEL.fullmatch(short):
        return ""  # a link labelled "cite", as users paste them: it names nothing
    if is_quoted(short):
        return strip_quotes(short)  # “Fundamentals of Computer Graphics, Fourth Edition”
    head, comma, rest = short.partition(",")
    return strip_quotes(head) + comma + rest if is_quoted(head) else short


def usable(title: str) -> str:
    """``title`` as one line, or "" when it names no paper ("Annotations (3/15/2024)")."""
    title = strip_quotes(" ".join(title.split()))
    if not title or _GENERIC.match(title) or not any(c.isalpha() for c in title):
        return ""
    return title


def front_matter_title(fields: Mapping[str, object]) -> str:
    """The title a file's front matter gives (first of its fields that has one)."""
    folded = {str(k).casefold(): v for k, v in fields.items()}
    for name in _FIELDS:
        value = folded.get(name)
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, str) and usable(v)), None)
        if isinstance(value, str) and (title := usable(value)):
            return title
    return ""


# A level-2 heading: Zotero names each paper so in a note of several papers' annotations.
_HEADING = re.compile(r"^[ \t]*##[ \t]+(\S.*?)[ \t#]*\r?$|^[ \t]*<h2\b[^>]*>(.*?)</h2>", re.I)


def heading_title(line: str) -> str:
    """The title a ``## Title`` (or ``<h2>Title</h2>``) line gives, if it is one."""
    match = _HEADING.match(line)
    if match is None:
        return ""
    return usable(re.sub(r"<[^>]*>", "", match.group(1) or match.group(2) or ""))


def text_title(text: str) -> str:
    """A title the text above the annotations states: a Dataview ``Title::`` line, a loose
    ``title:`` line (front matter that is not at the top), then a reference line."""
    for pattern in (_DATAVIEW_TITLE, _LOOSE_TITLE):
        for match in pattern.finditer(text):
            if title := usable(match.group(1)):
                return title
    return ""


def reference_title(text: str) -> str:
    """The title in a reference line (APA, MLA or Chicago style) in ``text``."""
    for line in text.splitlines():
        if "zotero://" in line:
            continue
        for pattern in (_APA, _QUOTED):
            match = pattern.search(line)
            if match is not None and (title := usable(match.group("title"))):
                return title
    return ""


def file_name_title(path: Path) -> str:
    """The export file's name, when it is a paper's title rather than a note's."""
    stem = path.stem
    if (bn := _BN_NAME.match(stem)) is not None:
        stem = bn.group("title").replace("-", " ")
    stem = _DATE_PREFIX.sub("", stem)
    if (
        " " not in stem
        and stem.isascii()
        and (len(stem) < 8 or re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)+", stem))
    ):
        return ""  # "notes", "export", a key, a slug ("a-survey-of-llms"): not a title
    return usable(stem)
