"""Many export files' annotations as one: one annotation per key, the richest copy; each
paper's best title; a keyless copy of a keyed annotation dropped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from obsync.export.read import FileRead
from obsync.model import Annotation, ExportRead, SourceInfo


def merge(reads: Iterable[FileRead]) -> ExportRead:
    """One annotation per key: the richest copy wins, ties go to the first file and line."""
    reads = sorted(reads, key=lambda r: r.path)
    best: dict[str, Annotation] = {}
    for read in reads:
        for annotation in read.annotations:
            kept = best.get(annotation.key)
            if kept is None or annotation.richness() > kept.richness():
                best[annotation.key] = annotation
    titles = best_sources(a for r in reads for a in r.annotations)
    annotations = tuple(
        with_source(a, titles[a.source.key])
        for a in sorted(_without_keyless_copies(best), key=lambda a: a.key)
    )
    return ExportRead(
        annotations=annotations,
        errors=tuple(e for r in reads for e in r.errors),
        files=tuple(r.path for r in reads),
        failed=frozenset(r.path for r in reads if r.errors),
    )


def best_sources(annotations: Iterable[Annotation]) -> dict[str, SourceInfo]:
    """Each paper's best source: the title of highest ``title_rank`` any copy gives, ties
    to the smaller title, then to the first copy."""
    sources: dict[str, SourceInfo] = {}
    for annotation in annotations:
        source = annotation.source
        known = sources.get(source.key)
        if known is None or (-source.title_rank, source.title) < (-known.title_rank, known.title):
            sources[source.key] = source
    return sources


def _content(annotation: Annotation) -> tuple[str, str]:
    words = (annotation.text or annotation.comment).casefold().split()
    return annotation.page_label, " ".join(words)


def _without_keyless_copies(best: dict[str, Annotation]) -> list[Annotation]:
    """Drop annotations without a Zotero key that another export carries with one.

    Formats that lose keys (Zotero's exports without links, Better Notes' flattened
    underlines) give the same annotation as a richer format in the same folder: it is
    matched by paper, page and text (or a note's comment), and the keyed copy is kept.
    A paper known only by its citation text is matched by that text.
    """
    if all(a.keyed for a in best.values()):
        return list(best.values())  # the usual case: nothing to match, no text to fold
    ranked = sorted(
        best.values(), key=lambda a: (not a.keyed, a.source.key.startswith("obs-"), a.key)
    )
    by_item: dict[tuple[str, str, str], Annotation] = {}
    by_citation: dict[tuple[str, str, str], Annotation] = {}
    kept: list[Annotation] = []
    for annotation in ranked:
        page, text = _content(annotation)
        item = (annotation.source.key, page, text)
        cited = (annotation.source.citation, page, text)
        if not annotation.keyed and (
            item in by_item or (annotation.source.key.startswith("obs-") and cited in by_citation)
        ):
            continue
        by_item.setdefault(item, annotation)
        if annotation.source.citation:
            by_citation.setdefault(cited, annotation)
        kept.append(annotation)
    return kept


def with_source(annotation: Annotation, source: SourceInfo) -> Annotation:
    """The annotation with its paper's best source (itself when it has it already)."""
    return annotation if annotation.source == source else replace(annotation, source=source)
