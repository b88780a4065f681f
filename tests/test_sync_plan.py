"""The planner's decision table, row by row, on values in memory: no disk, as a sync of a
memory storage. And the property that lets a sync look at what changed only: the plan of a
narrow scope is the plan those papers get in the widest scope."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path, PurePosixPath

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from obsync.model import Annotation, AnnotationType, ExportRead, Library, Location, SourceInfo
from obsync.settings.config import DEFAULT_MARKER, Settings
from obsync.sync.batches import InBatches, batches
from obsync.sync.plan import Action, Plan, Seen, make_plan
from obsync.sync.state import Snapshot
from obsync.vault.read import Found, Notes, frontmatter_key

EXPORT = Path("/memory/export")
FILE = EXPORT / "paper.md"
SETTINGS = Settings(
    export=EXPORT,
    vault=Path("/memory/vault"),
    state_file=Path("/memory/state.sqlite"),
    annotations_folder="Zotero/Annotations",
    sources_folder="Zotero/Sources",
    attachments_folder="Zotero/Attachments",
    marker=DEFAULT_MARKER,
    colors={},
    config_file=None,
)
Vault = dict[PurePosixPath, str]


def paper(key: str = "PAPER111", title: str = "The paper") -> SourceInfo:
    return SourceInfo(key, Library(), title, 1, "Zhao et al., 2023")


def ann(
    key: str, text: str = "", comment: str = "", source: SourceInfo | None = None
) -> Annotation:
    return Annotation(
        key=key, keyed=True, type=AnnotationType.HIGHLIGHT, text=text or f"Text of {key}",
        comment=comment, color="#ffd400", page_label="1", zotero_link="", citation="Zhao, 2023",
        source=source or paper(), image=None, location=Location(FILE, 1),
    )  # fmt: skip


def export(*annotations: Annotation, files: tuple[Path, ...] = (FILE,)) -> ExportRead:
    return ExportRead(annotations=annotations, files=files)


def index(vault: Vault, names: Vault | None = None) -> Seen:
    """The vault's notes by key, as the vault's reader finds them, and the names of
    ``names`` (default: the same notes') as taken."""
    found = Notes()
    for path, text in vault.items():
        key = frontmatter_key(text)
        if key is not None:
            found.add(*key, Found(path, text))
    return Seen(found, frozenset(p.stem.casefold() for p in (vault if names is None else names)))


def plan(read: ExportRead, vault: Vault, state: Snapshot, *, restore: bool = False) -> Plan:
    frozen_vault, frozen_state = copy.deepcopy(vault), copy.deepcopy(state)
    result = make_plan(read, index(vault), state, SETTINGS, restore_deleted=restore)
    assert vault == frozen_vault and state == frozen_state  # the planner changes no input
    return result


def applied(vault: Vault, result: Plan) -> Vault:
    """The vault once a plan is written: the one writer, in memory."""
    out = dict(vault)
    for write in result.writes:
        assert out.get(write.path) == write.expected
        out[write.path] = write.content
    return out


def state_of(result: Plan) -> Snapshot:
    return Snapshot({(r.kind, r.key): r for r in result.records}, {})


def synced(*annotations: Annotation) -> tuple[Vault, Snapshot]:
    """A vault and a state after a first sync of ``annotations``."""
    first = plan(export(*annotations), {}, Snapshot({}, {}))
    return applied({}, first), state_of(first)


NOTE = PurePosixPath("Zotero/Annotations/The paper/KEY00001.md")
SOURCE = PurePosixPath("Zotero/Sources/The paper.md")


def actions(result: Plan) -> dict[PurePosixPath, Action]:
    return {w.path: w.action for w in result.writes}


def edit(vault: Vault, path: PurePosixPath, old: str, new: str) -> Vault:
    assert old in vault[path]
    return {**vault, path: vault[path].replace(old, new)}


def test_no_note_no_record_creates_it() -> None:
    result = plan(export(ann("KEY00001")), {}, Snapshot({}, {}))
    assert actions(result) == {NOTE: Action.CREATE, SOURCE: Action.CREATE}
    assert "\nobsync: " in result.writes[0].content  # stamped


def test_no_note_but_a_record_was_deleted_by_the_user() -> None:
    vault, state = synced(ann("KEY00001"))
    del vault[NOTE]
    result = plan(export(ann("KEY00001", comment="new")), vault, state)
    assert NOTE not in actions(result) and result.annotations.deleted == 1
    assert state_of(result).get("annotation", "KEY00001").path == ""  # type: ignore[union-attr]


def test_no_note_but_a_record_is_restored_when_asked() -> None:
    vault, state = synced(ann("KEY00001"))
    del vault[NOTE]
    result = plan(export(ann("KEY00001")), vault, state, restore=True)
    assert actions(result)[NOTE] is Action.CREATE


def test_the_note_as_obsync_would_write_it_is_left_alone() -> None:
    vault, state = synced(ann("KEY00001"))
    result = plan(export(ann("KEY00001")), vault, state)
    assert result.writes == () and result.annotations.unchanged == 1


def test_the_note_as_obsync_would_write_it_but_unstamped_gets_its_stamp() -> None:
    vault, _state = synced(ann("KEY00001"))
    unstamped = "".join(
        line for line in vault[NOTE].splitlines(True) if not line.startswith("obsync:")
    )
    result = plan(export(ann("KEY00001")), {**vault, NOTE: unstamped}, Snapshot({}, {}))
    assert actions(result) == {NOTE: Action.UPDATE}
    assert applied({**vault, NOTE: unstamped}, result)[NOTE] == vault[NOTE]


def test_untouched_since_obsync_wrote_it_takes_the_new_version_keeping_the_users_text() -> None:
    vault, state = synced(ann("KEY00001"))
    vault = {**vault, NOTE: vault[NOTE] + "my thoughts\n"}
    vault = edit(vault, NOTE, "tags:\n", "rating: 5\ntags:\n")
    for known in (state, Snapshot({}, {})):  # the note's stamp says it, state or not
        result = plan(export(ann("KEY00001", comment="upstream")), vault, known)
        assert actions(result) == {NOTE: Action.UPDATE}
        after = applied(vault, result)[NOTE]
        assert "upstream" in after and after.endswith("my thoughts\n") and "rating: 5" in after


def test_untouched_unstamped_note_is_known_by_the_states_fingerprint() -> None:
    vault, state = synced(ann("KEY00001"))
    unstamped = "".join(
        line for line in vault[NOTE].splitlines(True) if not line.startswith("obsync:")
    )
    result = plan(export(ann("KEY00001", comment="upstream")), {**vault, NOTE: unstamped}, state)
    assert actions(result) == {NOTE: Action.UPDATE} and result.annotations.conflicts == 0


def test_edited_by_the_user_and_unchanged_upstream_stays_theirs() -> None:
    vault, state = synced(ann("KEY00001"))
    vault = edit(vault, NOTE, "Text of KEY00001", "My words")
    for known in (state, Snapshot({}, {})):
        result = plan(export(ann("KEY00001")), vault, known)
        assert result.writes == () and result.annotations.conflicts == 0


def test_edited_by_the_user_and_changed_upstream_is_a_conflict_copy() -> None:
    vault, state = synced(ann("KEY00001"))
    vault = edit(vault, NOTE, "Text of KEY00001", "My words")
    for known in (state, Snapshot({}, {})):
        result = plan(export(ann("KEY00001", comment="upstream")), vault, known)
        copy_path = NOTE.with_name("KEY00001 (obsync conflict).md")
        assert actions(result) == {copy_path: Action.CONFLICT_COPY}
        assert result.annotations.conflicts == 1


def test_a_missing_or_doubled_marker_is_never_rewritten() -> None:
    vault, state = synced(ann("KEY00001"))
    for text in (vault[NOTE].replace(DEFAULT_MARKER, ""), vault[NOTE] + DEFAULT_MARKER + "\n"):
        result = plan(export(ann("KEY00001", comment="upstream")), {**vault, NOTE: text}, state)
        assert NOTE not in actions(result) and result.problems


def test_frontmatter_that_is_not_yaml_is_never_rewritten() -> None:
    vault, state = synced(ann("KEY00001"))
    vault = edit(vault, NOTE, "tags:\n", "tags: [unclosed\n")
    result = plan(export(ann("KEY00001", comment="upstream")), vault, state)
    assert NOTE not in actions(result) and result.problems


def test_gone_from_a_file_still_there_is_marked_removed_and_stamped() -> None:
    vault, state = synced(ann("KEY00001"), ann("KEY00002"))
    result = plan(export(ann("KEY00002")), vault, state)
    assert actions(result)[NOTE] is Action.MARK_REMOVED
    after = applied(vault, result)
    assert "annotation-status: removed" in after[NOTE]
    # It comes back: the status goes, with or without the state.
    for known in (state_of(result), Snapshot({}, {})):
        back = plan(export(ann("KEY00001"), ann("KEY00002")), after, known)
        assert "annotation-status" not in applied(after, back)[NOTE]
        assert back.annotations.conflicts == 0


def test_gone_with_its_whole_file_changes_nothing() -> None:
    vault, state = synced(ann("KEY00001"))
    result = plan(export(files=()), vault, state)
    assert result.writes == () and result.annotations.removed == 0


def test_gone_and_deleted_by_the_user_is_forgotten_quietly() -> None:
    vault, state = synced(ann("KEY00001"), ann("KEY00002"))
    del vault[NOTE]
    result = plan(export(ann("KEY00002")), vault, state)
    assert NOTE not in actions(result) and result.annotations.removed == 0


def test_a_removed_note_the_user_edited_loses_only_its_status_when_it_comes_back() -> None:
    vault, state = synced(ann("KEY00001"), ann("KEY00002"))
    vault = edit(vault, NOTE, "Text of KEY00001", "My words")
    removed = plan(export(ann("KEY00002")), vault, state)
    after = applied(vault, removed)
    back = plan(export(ann("KEY00001"), ann("KEY00002")), after, state_of(removed))
    text = applied(after, back)[NOTE]
    assert "My words" in text and "annotation-status" not in text
    assert back.annotations.conflicts == 0


def test_a_new_papers_name_taken_in_the_vault_gets_its_key() -> None:
    vault: Vault = {PurePosixPath("Elsewhere/The paper.md"): "the user's own note\n"}
    result = plan(export(ann("KEY00001")), vault, Snapshot({}, {}))
    assert PurePosixPath("Zotero/Sources/The paper (PAPER111).md") in actions(result)


# -- narrow scope == widest scope --------------------------------------------------------

PAPERS = [paper(f"PAPER{n:03d}", f"Paper {n}") for n in range(4)]


def library(comments: list[int]) -> list[Annotation]:
    return [
        ann(f"K{p}EY{n:03d}", comment=f"c{comments[p * 3 + n]}", source=PAPERS[p])
        for p in range(4) for n in range(3)
    ]  # fmt: skip


def narrowed(read: ExportRead, vault: Vault, state: Snapshot, papers: set[str]) -> Plan:
    """The plan of some papers, from what a narrow sync loads: their annotations, their
    records, their notes, and every name in the vault."""
    keys = {a.key for a in read.annotations if a.source.key in papers}
    records = {
        k: r for k, r in state.records.items()
        if (r.kind == "source" and r.key in papers) or r.source_key in papers or r.key in keys
    }  # fmt: skip
    paths = {PurePosixPath(r.path) for r in records.values() if r.path}
    notes = index({p: t for p, t in vault.items() if p in paths}, vault)
    narrow = replace(read, annotations=tuple(a for a in read.annotations if a.source.key in papers))
    return make_plan(narrow, notes, Snapshot(records, {}), SETTINGS)


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    before=st.lists(st.integers(0, 2), min_size=12, max_size=12),
    after=st.lists(st.integers(0, 2), min_size=12, max_size=12),
    dropped=st.sets(st.integers(0, 11), max_size=3),
    edited=st.sets(st.integers(0, 11), max_size=3),
    scope=st.sets(st.integers(0, 3), min_size=1),
)
def test_a_narrow_scopes_plan_is_those_papers_plan_in_the_widest(
    before: list[int], after: list[int], dropped: set[int], edited: set[int], scope: set[int]
) -> None:
    vault, state = synced(*library(before))
    for n in edited:
        path = next(p for p, t in vault.items() if f"annotation-key: K{n // 3}EY{n % 3:03d}\n" in t)
        vault = edit(vault, path, "Text of", "My text of")
    now = [a for i, a in enumerate(library(after)) if i not in dropped]
    read = export(*now)
    papers = {PAPERS[p].key for p in scope}
    whole = plan(read, vault, state)
    narrow = narrowed(read, vault, state, papers)
    in_scope = {(r.kind, r.key) for r in narrow.records}
    assert len(in_scope) == 4 * len(papers)  # three annotations and a literature note each
    assert set(narrow.writes) == {w for w in whole.writes if (w.kind, w.key) in in_scope}
    assert set(narrow.records) == {r for r in whole.records if (r.kind, r.key) in in_scope}
    # And in parts of any size, the same as one plan.
    seen = index(vault)
    found = {key: f.path for key, f in seen.notes.sources.items()}
    planner = InBatches.start(read, SETTINGS, found=found, taken=set(seen.taken), same_images=set())
    parts = [planner.plan(batch, seen.notes) for batch in batches(read, state, 1)]
    assert {w for p in parts for w in p.writes} == set(whole.writes)
