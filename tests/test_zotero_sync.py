"""`obsync sync` with Zotero's Web API as a source, against a fake server on 127.0.0.1."""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frontmatter
import pytest

from tests.helpers import note_path, tree
from tests.zotero_server import FakeZotero, annotation, attachment, paper, serve
from tests.zotero_setup import fill, run_json, write_config

USER = "users/8071752"


@pytest.fixture
def fake() -> Iterator[FakeZotero]:
    yield from serve(FakeZotero())


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's back-off waits, counted instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr("obsync.zotero.api.wait", waited.append)
    return waited


def test_first_sync_creates_every_note_and_the_second_asks_once_and_writes_nothing(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(fake, USER, papers=20, per_paper=50)
    config = write_config(tmp_path, fake)
    first = run_json(capsys, config)
    assert first["annotations"]["created"] == 1000
    assert first["sources"]["created"] == 20
    vault = tmp_path / "vault"
    notes = list((vault / "Zotero" / "Annotations").rglob("*.md"))
    assert len(notes) == 1000
    before = tree(vault)
    fake.requests.clear()
    second = run_json(capsys, config)
    assert len(fake.requests) == 1  # one per library: a 304
    assert fake.requests[0].headers["if-modified-since-version"] == str(fake.library(USER).version)
    assert second["annotations"]["created"] == second["annotations"]["updated"] == 0
    assert tree(vault) == before


def test_a_note_from_the_api_has_the_properties_an_export_gives(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.library(USER).put(
        paper("7UKARWPR", "A Survey of Large Language Models"),
        attachment("KB2C5XMW", "7UKARWPR"),
        annotation("RC4HW3AF", "KB2C5XMW", text="Since the researchers have found", comment="Mine"),
    )
    run_json(capsys, write_config(tmp_path, fake))
    text = note_path(tmp_path / "vault", "RC4HW3AF").read_text()
    assert "annotation-type: highlight\n" in text
    assert 'source: "[[A Survey of Large Language Models]]"' in text
    assert 'citation: "Zhao et al., 2023, p. 1"' in text
    assert "zotero://open-pdf/library/items/KB2C5XMW?page=1&annotation=RC4HW3AF" in text
    assert 'color: "#ffd400"' in text
    assert "> Since the researchers have found" in text
    source = tmp_path / "vault" / "Zotero" / "Sources" / "A Survey of Large Language Models.md"
    assert 'item-key: "7UKARWPR"' in source.read_text()


def _three_highlights(fake: FakeZotero, library: str = USER) -> None:
    fake.library(library).put(
        paper("PAPERAAA", "Attention Is All You Need", "Vaswani et al.", "2017"),
        attachment("PDFAAAAA", "PAPERAAA"),
        annotation("HLONE111", "PDFAAAAA", text="one"),
        annotation("HLTWO222", "PDFAAAAA", text="two", top=600),
        annotation("HLTHREE3", "PDFAAAAA", text="three", top=500),
    )


def test_an_incremental_sync_asks_since_the_version_it_has(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_highlights(fake)
    config = write_config(tmp_path, fake)
    run_json(capsys, config)
    library = fake.library(USER)
    known = library.version
    changed = library.items["HLTWO222"]
    changed["data"]["annotationComment"] = "now with a comment"
    library.put(changed, annotation("HLFOUR44", "PDFAAAAA", text="four", top=400))
    fake.requests.clear()
    result = run_json(capsys, config)
    assert result["annotations"]["created"] == 1
    assert result["annotations"]["updated"] == 1
    first = fake.requests[0]
    assert first.query["since"] == str(known)
    assert first.headers["if-modified-since-version"] == str(known)
    assert "itemType" not in first.query  # any item may have changed: a paper's title too
    assert fake.count("/deleted") == 1
    from obsync.settings.config import resolve
    from obsync.sync.state import StateStore
    from obsync.zotero.source import pull

    settings = resolve(config_path=config, export=None, vault=None)
    assert settings.zotero is not None
    library.delete("HLONE111")
    pulled = pull(settings.zotero, StateStore(settings.state_file))
    assert pulled.changed and pulled.touched == {"HLONE111"} and pulled.touched_all
    assert "now with a comment" in note_path(tmp_path / "vault", "HLTWO222").read_text()


def test_deleted_and_trashed_annotations_are_marked_removed_and_come_back(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_highlights(fake)
    config = write_config(tmp_path, fake)
    run_json(capsys, config)
    library = fake.library(USER)
    library.delete("HLONE111")
    library.trash("HLTWO222")
    result = run_json(capsys, config)
    assert result["annotations"]["removed"] == 2
    vault = tmp_path / "vault"
    assert "annotation-status: removed" in note_path(vault, "HLONE111").read_text()
    assert "annotation-status: removed" in note_path(vault, "HLTWO222").read_text()
    assert "annotation-status" not in note_path(vault, "HLTHREE3").read_text()
    library.trash("HLTWO222", trashed=False)
    run_json(capsys, config)
    assert "annotation-status" not in note_path(vault, "HLTWO222").read_text()


def test_a_library_of_several_pages_is_read_page_by_page(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(fake, USER, papers=1, per_paper=250)
    result = run_json(capsys, write_config(tmp_path, fake))
    assert result["annotations"]["created"] == 250
    pages = [r for r in fake.requests if r.path.endswith("/items") and "itemKey" not in r.query]
    assert [r.query["start"] for r in pages] == ["0", "100", "200"]
    assert all(r.query["limit"] == "100" for r in pages)


def test_429_is_retried_after_the_wait_the_server_asks(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str], waits: list[float]
) -> None:
    _three_highlights(fake)
    fake.fail.append((429, {"Retry-After": "7"}))
    fake.fail.append((503, {"Retry-After": "3"}))
    result = run_json(capsys, write_config(tmp_path, fake))
    assert result["annotations"]["created"] == 3
    assert waits == [7.0, 3.0]
    assert fake.requests[0].path == fake.requests[2].path == "/users/8071752/items"


def test_a_refused_key_is_one_line_and_exit_2(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_highlights(fake)
    config = write_config(tmp_path, fake, key="WrongKey1234567890abcdef")
    from obsync.cli import main

    assert main(["sync", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "refused the API key for users/8071752 (403)" in err
    assert "WrongKey" not in err


def test_an_annotation_type_obsync_does_not_know_is_reported_and_the_rest_synced(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_highlights(fake)
    fake.library(USER).put(annotation("NEWKIND1", "PDFAAAAA", kind="sparkle"))
    result = run_json(capsys, write_config(tmp_path, fake), code=1)
    assert result["annotations"]["created"] == 3
    (error,) = result["errors"]
    assert error["file"] == "zotero:users/8071752"
    assert "NEWKIND1" in error["message"] and "'sparkle' is not known" in error["message"]


def test_a_group_library_links_into_the_group(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_highlights(fake, "groups/5477470")
    _three_highlights(fake, USER)  # the same keys in another library are other annotations?
    fake.library(USER).delete("HLONE111", "HLTWO222", "HLTHREE3")
    fake.library(USER).put(annotation("MINE1234", "PDFAAAAA", text="mine"))
    config = write_config(tmp_path, fake, libraries=(USER, "groups/5477470"))
    result = run_json(capsys, config)
    assert result["annotations"]["created"] == 4
    text = note_path(tmp_path / "vault", "HLONE111").read_text()
    assert "zotero://open-pdf/groups/5477470/items/PDFAAAAA?page=1&annotation=HLONE111" in text
    mine = note_path(tmp_path / "vault", "MINE1234").read_text()
    assert "zotero://open-pdf/library/items/PDFAAAAA" in mine


def test_an_annotation_in_an_export_and_in_the_api_is_one_note(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import FIXTURES

    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "better_notes", export)
    fake.library(USER).put(
        paper("7UKARWPR", "A Survey of Large Language Models"),
        attachment("KB2C5XMW", "7UKARWPR"),
        annotation("RC4HW3AF", "KB2C5XMW", text="Since the researchers have found & shown ..."),
    )
    config = write_config(tmp_path, fake, export=export)
    result = run_json(capsys, config)
    vault = tmp_path / "vault"
    assert len([p for p in vault.rglob("*.md") if "RC4HW3AF" in p.read_text()
                and "annotation-key" in p.read_text()]) == 1  # fmt: skip
    assert result["annotations"]["conflicts"] == 0
    sources = [p for p in (vault / "Zotero" / "Sources").glob("*.md")
               if 'item-key: "7UKARWPR"' in p.read_text()]  # fmt: skip
    assert [p.name for p in sources] == ["A Survey of Large Language Models.md"]


def test_a_library_changing_while_read_is_read_again(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(fake, USER, papers=1, per_paper=150)
    library = fake.library(USER)

    def change(request: object) -> None:
        library.put(annotation("LATE1234", "PDF00000", text="made while obsync read"))

    # Before the second page: the library moves on between the pages of one pass.
    fake.before.append(lambda r: fake.before.append(change))
    result = run_json(capsys, write_config(tmp_path, fake))
    assert result["annotations"]["created"] == 151
    starts = [r.query.get("start") for r in fake.requests if "itemKey" not in r.query]
    assert starts.count("0") == 2  # the pass began again


def test_409_from_deleted_reads_the_library_again_from_the_start(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_highlights(fake)
    config = write_config(tmp_path, fake)
    run_json(capsys, config)
    library = fake.library(USER)
    library.delete("HLONE111")
    library.deleted_kept_since = library.version + 1  # the server forgot old deletions
    fake.requests.clear()
    result = run_json(capsys, config)
    assert result["annotations"]["removed"] == 1
    assert any(r.path.endswith("/items") and "since" not in r.query for r in fake.requests)


def test_a_connection_dropped_mid_page_is_tried_again_after_a_wait(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str], waits: list[float]
) -> None:
    fill(fake, USER, papers=1, per_paper=150)
    fake.before.append(lambda r: fake.fail.append("drop"))  # the first page, cut short
    result = run_json(capsys, write_config(tmp_path, fake))
    assert result["annotations"]["created"] == 150
    assert waits == [1.0]


def test_a_server_out_of_reach_is_a_warning_and_the_export_still_syncs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo_export: Path, waits: list[float]
) -> None:
    fake = FakeZotero()
    fake.url = "http://127.0.0.1:9"  # discard port: nothing listens
    config = write_config(tmp_path, fake, export=demo_export)
    from obsync.cli import main

    capsys.readouterr()
    assert main(["sync", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert "created" in captured.out
    assert "cannot reach the server" in captured.err
    assert waits == [1.0, 2.0, 4.0]  # exponential back-off, then a warning
    assert list((tmp_path / "vault").rglob("*.md"))


def test_an_image_annotation_gets_its_picture_once_zotero_has_rendered_it(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "Zotero"
    fake.library(USER).put(
        paper("PAPERAAA", "A paper"),
        attachment("PDFAAAAA", "PAPERAAA"),
        annotation("IMAGE111", "PDFAAAAA", kind="image", comment="a figure"),
    )
    config = write_config(tmp_path, fake, data_dir=data_dir)
    run_json(capsys, config)
    vault = tmp_path / "vault"
    text = note_path(vault, "IMAGE111").read_text()
    assert (
        "*(image not found here yet: [see it in Zotero](<zotero://open-pdf/library/items/PDFAAAAA?page=1&annotation=IMAGE111>))*"
        in text
    )
    picture = data_dir / "cache" / "library" / "IMAGE111.png"
    picture.parent.mkdir(parents=True)
    picture.write_bytes(b"\x89PNG\r\n\x1a\n rendered")
    fake.requests.clear()
    result = run_json(capsys, config)
    assert len(fake.requests) == 1  # a 304: the picture alone called for the sync
    assert result["annotations"]["updated"] == 1
    assert "![[IMAGE111.png]]" in note_path(vault, "IMAGE111").read_text()
    assert (vault / "Zotero" / "Attachments" / "IMAGE111.png").read_bytes() == picture.read_bytes()
    before = tree(vault)
    run_json(capsys, config)
    assert tree(vault) == before


# -- faithful to Zotero ------------------------------------------------------------------

API_FIXTURE = Path(__file__).parent / "fixtures" / "api" / "attachment-annotations.json"


def _zoteros_own(fake: FakeZotero, library: str = USER) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(API_FIXTURE.read_text())["items"]
    fake.library(library).put(*items)
    return items


def _note(vault: Path, key: str) -> Path:
    """The note of ``key`` (whose frontmatter may quote a key such as 3EQ7EGWI)."""
    (found,) = [p for p in vault.rglob("*.md") if frontmatter.load(p).get("annotation-key") == key]
    return found


def _listed(vault: Path, source: str, keys: list[str]) -> list[str]:
    """The keys in the order the literature note lists their notes."""
    text = (vault / "Zotero" / "Sources" / f"{source}.md").read_text()
    at = {key: text.index(f"[[{_note(vault, key).stem}|") for key in keys}
    return sorted(keys, key=at.__getitem__)


def test_zoteros_own_annotations_are_listed_in_zoteros_order(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    items = _zoteros_own(fake)
    config = write_config(tmp_path, fake)
    run_json(capsys, config)
    vault = tmp_path / "vault"
    keys = [i["key"] for i in items if i["data"]["itemType"] == "annotation"]
    # A two-column page reads left column first (LEFTCOL1 is lower on the page than
    # RIGHTCO2), and ink, which has no rectangles, stands where Zotero puts it.
    expected = ["LU63VVHJ", "AP56XH5Y", "LEFTCOL1", "INKDRAW3", "RIGHTCO2", "3EQ7EGWI", "LKHYYHTZ"]
    title = "Effects of diet restriction on life span and age-related changes in dogs"
    assert _listed(vault, title, keys) == expected
    orders = [frontmatter.load(_note(vault, key))["order"] for key in expected]
    assert orders == sorted(orders) and orders[4] == "00003|003120|00060"
    before = tree(vault)
    fake.library(USER).version += 1  # the library moved on elsewhere: read again, same items
    fake.library(USER).put(*items)
    assert run_json(capsys, config)["annotations"]["updated"] == 0
    assert tree(vault) == before


def test_zotero_tags_reach_the_note_and_leave_it_and_the_users_own_stay(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    items = _zoteros_own(fake)
    config = write_config(tmp_path, fake)
    run_json(capsys, config)
    vault = tmp_path / "vault"
    path = note_path(vault, "LU63VVHJ")
    assert frontmatter.load(path)["tags"] == ["zotero/magenta", "cute"]
    assert frontmatter.load(note_path(vault, "LKHYYHTZ"))["tags"] == ["zotero/purple", "to-read"]
    path.write_text(path.read_text().replace("  - cute\n", "  - cute\n  - mine\n"))
    (changed,) = [i for i in items if i["key"] == "LU63VVHJ"]
    changed["data"]["tags"] = [{"tag": "dogs"}]
    fake.library(USER).put(changed)
    run_json(capsys, config)
    assert frontmatter.load(path)["tags"] == ["zotero/magenta", "dogs", "mine"]


def test_highlighted_code_from_the_api_keeps_every_character(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    _zoteros_own(fake)
    run_json(capsys, write_config(tmp_path, fake))
    text = frontmatter.load(note_path(tmp_path / "vault", "RIGHTCO2")).content
    # Whatever the escaping, the words between < and > are there, and nothing is bold.
    assert "String" in text and "Integer" in text and "**" not in text
    assert html.unescape(text.replace("\\", "")).count("AT&amp;T") == 1


def test_who_made_an_annotation_in_a_group_library(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "groups/5477470"
    items = json.loads(API_FIXTURE.read_text())["items"]
    for item in items:
        item["meta"]["createdByUser"] = {"id": 2, "username": "john", "name": "John"}
    items[-1]["data"]["annotationAuthorName"] = "John D."
    fake.library(group).put(*items)
    run_json(capsys, write_config(tmp_path, fake, libraries=(group,)))
    vault = tmp_path / "vault"
    assert frontmatter.load(note_path(vault, "LU63VVHJ"))["author"] == "John"
    assert frontmatter.load(note_path(vault, items[-1]["key"]))["author"] == "John D."


def test_a_standalone_pdf_is_named_by_its_title_not_its_file_name(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.library(USER).put(
        attachment("PDFALONE", None, title="attention-is-all-you-need.pdf"),
        annotation("HLONE111", "PDFALONE", text="one"),
    )
    run_json(capsys, write_config(tmp_path, fake))
    sources = tmp_path / "vault" / "Zotero" / "Sources"
    assert [p.name for p in sources.iterdir()] == ["attention-is-all-you-need.md"]
    citation = frontmatter.load(sources / "attention-is-all-you-need.md")["citation"]
    assert ".pdf" not in citation
