"""Write one paper's annotations in every export format, byte for byte as docs/formats.md shows them.

Tests describe annotations once (``Ann``) and get the same paper as Better Notes Markdown
(current and before 2.1.7), Zotero's Markdown export with and without links, note HTML and
Zotero's HTML export. Comments are plain text with ``**bold**`` marks and ``\\n`` breaks;
highlight texts may hold ``*italic*`` marks (italics given to the highlight in the note), which
every writer writes as its format's italics, and ``plain`` gives the text Zotero holds.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

USER = "http://zotero.org/users/8071752/items/"


@dataclass(frozen=True)
class Ann:
    key: str | None
    kind: str = "highlight"  # highlight | underline | image | note
    text: str = ""
    comment: str = ""
    color: str | None = "#ffd400"
    page: str = "1"
    epub_cfi: str | None = None
    attachment: str = "KB2C5XMW"
    parent: str | None = "7UKARWPR"
    citation: str = "Zhao et al., 2023"
    image_key: str = "QGZ7JHTT"


def plain(text: str) -> str:
    """A highlight's text as Zotero holds it (and obsync reads it): the italic marks dropped."""
    return re.sub(r"\*(.+?)\*", r"\1", text)


def encode(value: object) -> str:
    """encodeURIComponent(JSON.stringify(value))."""
    return quote(json.dumps(value, separators=(",", ":"), ensure_ascii=False), safe="-_.!~*'()")


def position(ann: Ann) -> dict[str, object]:
    if ann.epub_cfi is not None:
        return {
            "type": "FragmentSelector",
            "conformsTo": "http://www.idpf.org/epub/linking/cfi/epub-cfi.html",
            "value": ann.epub_cfi,
        }
    page = int(ann.page) - 1 if ann.page.isdigit() else 0
    return {"pageIndex": page, "rects": [[91.093, 568.636, 543.877, 576.036]]}


def data_annotation(ann: Ann) -> str:
    data: dict[str, object] = {"attachmentURI": USER + ann.attachment}
    if ann.key:
        data["annotationKey"] = ann.key
    if ann.color:
        data["color"] = ann.color
    data["pageLabel"] = "" if ann.epub_cfi else ann.page
    data["position"] = position(ann)
    if ann.parent:
        data["citationItem"] = {"uris": [USER + ann.parent], "locator": data["pageLabel"]}
    return encode(data)


def locator(ann: Ann) -> str:
    return "" if ann.epub_cfi else ann.page


def cite_text(ann: Ann) -> str:
    loc = locator(ann)
    return f"{ann.citation}, p. {loc}" if loc else ann.citation


def data_citation(ann: Ann) -> str:
    return encode(
        {
            "citationItems": [{"uris": [USER + str(ann.parent)], "locator": locator(ann)}],
            "properties": {},
        }
    )


def open_query(ann: Ann) -> str:
    if ann.epub_cfi is not None:
        query = "cfi=" + quote(ann.epub_cfi, safe="-_.!~*'()")
    else:
        query = f"page={int(ann.page)}"
    return query + (f"&annotation={ann.key}" if ann.key else "")


def _html_text(text: str) -> str:
    """Zotero's _transformTextToHTML: escape, \\n -> <br>, marks back to tags."""
    out = html.escape(text, quote=False).replace("\n", "<br>")
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", out)


# -- note HTML (Zotero's own, full data) -------------------------------------------------


def note_html(anns: Sequence[Ann], title: str = "A Survey of Large Language Models") -> str:
    items = encode([{"uris": [USER + "7UKARWPR"], "itemData": {"type": "article", "title": title}}])
    paragraphs = []
    for ann in anns:
        citation = (
            f'<span class="citation" data-citation="{data_citation(ann)}">(<span class="citation-item">'
            f"{html.escape(cite_text(ann), quote=False)}</span>)</span>"
            if ann.parent
            else ""
        )
        comment = f" {_html_text(ann.comment)}" if ann.comment else ""
        if ann.kind == "note":
            paragraphs.append(f"<p>{citation}{comment}</p>")
        elif ann.kind == "image":
            paragraphs.append(
                f'<p><img data-attachment-key="{ann.image_key}" width="667" height="213" '
                f'data-annotation="{data_annotation(ann)}"/><br/>{citation}{comment}</p>'
            )
        else:
            paragraphs.append(
                f'<p><span class="{ann.kind}" data-annotation="{data_annotation(ann)}">'
                f"“{_html_text(ann.text)}”</span> {citation}{comment}</p>"
            )
    return (
        f'<div data-citation-items="{items}" data-schema-version="10">'
        "<h1>Annotations<br/>(3/15/2024, 10:22:13 AM)</h1>\n" + "".join(paragraphs) + "\n</div>\n"
    )


# -- Zotero "Export Note → HTML" ----------------------------------------------------------


def zotero_html(anns: Sequence[Ann], *, links: bool = True) -> str:
    out = []
    for ann in anns:
        if links:
            cite = f'<a href="zotero://select/library/items/{ann.parent}">{html.escape(cite_text(ann), quote=False)}</a>'
            kind = "epub" if ann.epub_cfi else "pdf"
            open_link = (
                f' (<a href="zotero://open-pdf/library/items/{ann.attachment}?'
                f'{html.escape(open_query(ann))}">{kind}</a>) '
            )
        else:
            cite = f'<span class="citation-item">{html.escape(cite_text(ann), quote=False)}</span>'
            open_link = " "
        citation = f'<span class="citation">({cite})</span>'
        comment = f" {_html_text(ann.comment)}" if ann.comment else ""
        if ann.kind == "note":
            out.append(f"<p>{citation}{comment}</p>")
        elif ann.kind == "image":
            out.append(
                f'<p><img data-attachment-key="{ann.image_key}" width="667" height="213">'
                f"{open_link}<br>{citation}{comment}</p>"
            )
        else:
            out.append(
                f'<p><span class="{ann.kind}">“{_html_text(ann.text)}”</span> {citation}'
                f"{open_link if links else ''}{comment}</p>"
            )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div class="zotero-notes">'
        '<div class="zotero-note"><h1>Annotations<br>(3/15/2024, 10:22:13 AM)</h1>\n'
        + "\n".join(out)
        + "\n</div></div></body></html>\n"
    )


# -- Zotero "Export Note → Markdown" ------------------------------------------------------


def _zotero_md_escape(text: str) -> str:
    """turndown as Zotero configures it: * and ` everywhere; -, #, > and 1. at a line start."""
    text = text.replace("*", "\\*").replace("`", "\\`")
    return re.sub(
        r"(?m)^(#|-|>|\+ |=|\d+\.)",
        lambda m: "\\" + m.group(1) if m.group(1)[0] in "#->+=" else m.group(1)[:-1] + "\\.",
        text,
    )


def _zotero_md_comment(comment: str) -> str:
    # Marks in comments become Markdown; literal text is escaped; <br> is a hard break.
    parts = re.split(r"(\*\*.+?\*\*)", comment)
    out = "".join(p if p.startswith("**") else _zotero_md_escape(p) for p in parts)
    return out.replace("\n", "  \n")


def zotero_markdown(anns: Sequence[Ann], *, links: bool = True) -> str:
    out = ["# Annotations  \n(3/15/2024, 10:22:13 AM)"]
    for ann in anns:
        cite = (
            f"([{cite_text(ann)}](zotero://select/library/items/{ann.parent}))"
            if links
            else f"({cite_text(ann)})"
        )
        kind = "epub" if ann.epub_cfi else "pdf"
        open_link = (
            f" ([{kind}](zotero://open-pdf/library/items/{ann.attachment}?{open_query(ann)}))"
            if links
            else ""
        )
        comment = f" {_zotero_md_comment(ann.comment)}" if ann.comment else ""
        if ann.kind == "note":
            out.append(f"{cite}{comment}")
        elif ann.kind == "image":
            out.append(f"[image]{open_link}  \n{cite}{comment}")
        else:
            text = _zotero_md_escape(ann.text).replace("\\*", "*") if "*" in ann.text else ann.text
            out.append(f"“{text}” {cite}{open_link}{comment}")
    return "\n\n".join(out) + "\n"


# -- Better Notes Markdown ----------------------------------------------------------------


def _bn_escape(text: str) -> str:
    """remark's escapes for Markdown text (the ones comments need)."""
    text = re.sub(r"([\\*_`\[<~$&])", r"\\\1", text)
    return re.sub(
        r"(?m)^(#|-|>|\d+\.)",
        lambda m: "\\" + m.group(1) if m.group(1)[0] in "#->" else m.group(1)[:-1] + "\\.",
        text,
    )


def _bn_comment(comment: str) -> str:
    parts = re.split(r"(\*\*.+?\*\*)", comment)
    out = "".join(p if p.startswith("**") else _bn_escape(p) for p in parts)
    return "\\\n".join(line if line else "" for line in out.split("\n")).replace(
        "\\\n\\\n", "\\\n\\\n"
    )


def _hast(text: str) -> str:
    """hast-util-to-html text escaping."""
    return text.replace("&", "&#x26;").replace("<", "&#x3C;")


def zotero_note_text(text: str) -> str:
    """Zotero's _transformTextToHTML for text without formatting tags: ``innerText = text``,
    then ``innerHTML`` (editorInstance.js), which escapes ``&``, ``<``, ``>`` and U+00A0."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("\u00a0", "&nbsp;").replace("\n", "<br>")


def remark_text(text: str) -> str:
    """One line of phrasing text as remark-stringify writes it (mdast-util-to-markdown's
    unsafe patterns with GFM and math, as Better Notes uses them): ``\\`` before punctuation,
    ``*`` ``_`` `````` ``[`` ``~`` ``$`` always, ``<`` before ``[!/?A-Za-z]``, ``&`` before
    ``[#A-Za-z]``, ``!`` before ``[``, the ``:`` of ``http://``; spaces at either end as
    ``&#x20;``."""
    out = re.sub(r"\\(?=[!-/:-@\[-`{-~]|$)", r"\\\\", text)
    out = re.sub(r"([*_`\[~$])", r"\\\1", out)
    out = re.sub(r"<(?=[!/?A-Za-z])", r"\\<", out)
    out = re.sub(r"&(?=[#A-Za-z])", r"\\&", out)
    out = re.sub(r"!(?=\\\[)", r"\\!", out)
    out = re.sub(r"(https?):(?=//)", r"\1\\:", out)
    lead = len(out) - len(out.lstrip(" "))
    trail = len(out) - len(out.rstrip(" "))
    core = out.strip(" ")
    return "&#x20;" * lead + core + "&#x20;" * trail if core else out


def better_notes(
    anns: Sequence[Ann],
    *,
    title: str = "A Survey of Large Language Models",
    old: bool = False,
    note_key: str = "ABCD2345",
) -> str:
    scheme = "open-pdf" if old else "open"
    out = [
        "---\ntags: []\n"
        f"parent: '{title}'\n"
        f"{'' if old else '$'}version: 1234\n{'' if old else '$'}libraryID: 1\n"
        f"{'' if old else '$'}itemKey: {note_key}\n\n---\n# Annotations (3/15/2024, 10:22:13 AM)"
    ]
    for ann in anns:
        citation = (
            f'<span class="citation" data-citation="{data_citation(ann)}" ztype="zcitation">'
            f'(<span class="citation-item"><a href="zotero://select/library/items/{ann.parent}">'
            f"{_hast(cite_text(ann))}</a></span>)</span>"
        )
        comment = f" {_bn_comment(ann.comment)}" if ann.comment else ""
        page = "NaN" if ann.epub_cfi else ann.page
        href = f"zotero://{scheme}/library/items/{ann.attachment}?page={page}" + (
            f"&#x26;annotation={ann.key}" if ann.key else ""
        )
        html_text = _hast(ann.text).replace("*", "*")
        html_text = re.sub(r"\*(.+?)\*", r"<i>\1</i>", html_text)
        if ann.kind == "note":
            out.append(f"{citation}{comment}")
        elif ann.kind == "image":
            width = "" if old else " | 667"
            src = f"attachments/{ann.image_key}.png"
            alt = (
                f'\\<img data-attachment-key="{ann.image_key}" width="667" height="213" '
                f'data-annotation="{data_annotation(ann)}" src="{src}" ztype="zimage">{width}'
            )
            out.append(f"![{alt}]({src})\\\n{citation}{comment}")
        elif ann.kind == "underline":  # Better Notes flattens underlines to plain text
            italics = re.sub(r"\\\*(.+?)\\\*", r"*\1*", _bn_escape(ann.text))  # remark's
            out.append(f"“{italics}” {citation}{comment}")
        else:
            out.append(
                f'<span class="highlight" data-annotation="{data_annotation(ann)}" ztype="zhighlight">'
                f'<a href="{href}">“{html_text}”</a></span> {citation}{comment}'
            )
    return "\n\n".join(out) + "\n"


PAPER = (
    Ann("RC4HW3AF", text="Since the researchers have found ...", comment="This is my comment."),
    Ann("N2CMT2A1", text="A highlight without any comment", color="#ff6666", page="2"),
    Ann(
        "UNDRLN22",
        kind="underline",
        text="Underlined text with & ampersand",
        color="#5fb236",
        page="3",
        comment="Comment line one\nComment line two with **bold**",
    ),
    Ann(
        "MDCHARS2",
        text="Text with *asterisks*, [brackets] and_underscores_",
        color="#2ea8e5",
        page="4",
        comment="# not a heading\n- not a list\n[[Wiki link]] and #tag",
    ),
    Ann(None, kind="note", comment="A sticky note annotation comment", color=None, page="5"),
    Ann("QGZ7JHT2", kind="image", comment="Image comment", color="#5fb236", page="6"),
    Ann(
        "EPUBHL22",
        text="An EPUB highlight",
        comment="epub comment",
        color="#a28ae5",
        epub_cfi="epubcfi(/6/8!/4/2/10,/1:0,/1:42)",
    ),
    Ann("CHINESE2", text="中文的高亮", comment="评论：这很重要", color="#f19837", page="7"),
)
