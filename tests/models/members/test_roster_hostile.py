"""Hostile roster files: every one is refused with the project's error (never a 500), and none eats memory.

The files come from :mod:`tests.hostile_files`. The memory test runs the parser in
a fresh interpreter and reads the kernel's peak-RSS figure (VmHWM), so it measures
what the server would feel, allocator and all; run with ``-s`` to see the figures.
"""
from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.core import spreadsheets
from models.core.errors import Invalid
from models.members import roster
from models.members.roster import parse_roster
from tests import hostile_files
from tests.hostile_files import CATALOGUE, id_number

TODAY = date(2025, 6, 1)
# The server's default upload limit (server.config.Config.max_upload_bytes).
MAX_BYTES = 10 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[3]
CASES = {case.name: case for case in CATALOGUE}
KNOWN_CODES = {
    "roster_too_large", "roster_empty", "roster_format", "roster_encoding", "roster_headers",
    "roster_too_many_problems",
}


@functools.cache
def built(name: str) -> bytes:
    return CASES[name].build()


def outcome(data: bytes, filename: str) -> str | None:
    """The Invalid code parse_roster raises, or None when it parses; anything else escapes."""
    try:
        parse_roster(data, filename, max_bytes=MAX_BYTES, today=TODAY)
    except Invalid as exc:
        assert exc.code in KNOWN_CODES, exc.code
        assert exc.status == 400
        assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.message), exc.message
        return exc.code
    return None


# ---------------------------------------------------------------- every hostile file


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file_gives_its_error_code(name: str) -> None:
    case = CASES[name]
    data = built(name)
    assert len(data) <= MAX_BYTES, "a generator must stay under the upload limit"
    assert outcome(data, case.filename) == case.code


def test_the_catalogue_covers_the_reviewed_cases() -> None:
    names = set(CASES)
    for needed in (
        "cell_bomb", "shared_string_bomb", "many_rows_bomb", "many_columns_bomb",
        "many_shared_strings_bomb", "unrelated_member_bomb", "row_ref_not_a_number",
        "row_ref_5000_digits", "row_ref_negative", "row_ref_zero", "cell_ref_5000_letters",
        "rows_out_of_order", "cell_ref_letters_only", "cell_ref_digits_first", "sheet_part_missing",
        "rels_not_xml", "shared_index_out_of_range", "shared_index_fraction", "doctype_in_sheet",
        "invalid_utf8", "truncated_zip", "encrypted_member", "huge_declared_size",
        "nested_archive_as_sheet", "csv_enormous_line", "csv_many_tiny_rows", "csv_binary_garbage",
        "csv_mixed_encodings",
    ):
        assert needed in names
    bombs = [case for case in CATALOGUE if case.bomb]
    assert len(bombs) >= 8
    # Small on disk: a 200 MB bomb weighs well under a megabyte.
    assert len(built("cell_bomb")) < 512 * 1024
    with zipfile.ZipFile(io.BytesIO(built("cell_bomb"))) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size >= hostile_files.BOMB_BYTES


# ---------------------------------------------------------------- mutations of a good file


def _good_sheet() -> bytes:
    rows = [hostile_files.row(1, "姓名", "身份证号", "手机号")]
    rows += [hostile_files.row(n, "张三", id_number(n), "13812345678") for n in range(2, 6)]
    return b"".join(rows)


GOOD_SHEET = _good_sheet()
GOOD_XLSX = hostile_files.xlsx(GOOD_SHEET)
GOOD_CSV = ("姓名,身份证号,手机号\n" + "".join(f"张三,{id_number(n)},138 1234 5678\n" for n in range(2, 6))).encode()
MUTATION = st.lists(
    st.tuples(st.integers(min_value=0), st.sampled_from(["replace", "insert", "delete"]), st.binary(max_size=8)),
    min_size=1,
    max_size=6,
)


def _mutate(data: bytes, edits: list[tuple[int, str, bytes]]) -> bytes:
    out = bytearray(data)
    for position, action, chunk in edits:
        at = position % (len(out) + 1)
        if action == "replace":
            out[at : at + len(chunk)] = chunk
        elif action == "insert":
            out[at:at] = chunk
        else:
            del out[at : at + max(1, len(chunk))]
    return bytes(out)


def test_the_unmutated_files_parse() -> None:
    assert outcome(GOOD_XLSX, "r.xlsx") is None
    assert outcome(GOOD_CSV, "r.csv") is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATION)
def test_a_mutated_sheet_xml_never_escapes_as_another_error(edits: list[tuple[int, str, bytes]]) -> None:
    outcome(hostile_files.xlsx(_mutate(GOOD_SHEET, edits)), "r.xlsx")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATION)
def test_a_mutated_zip_never_escapes_as_another_error(edits: list[tuple[int, str, bytes]]) -> None:
    outcome(_mutate(GOOD_XLSX, edits), "r.xlsx")


def test_a_part_without_a_name_is_a_corrupt_file_not_a_crash() -> None:
    # Found by the mutation test above: a nameless member reached openpyxl's fallback check,
    # where zipfile's is_dir() raised IndexError (a 500 over HTTP).
    data = hostile_files.xlsx(parts={"xl/_rels/workbook.xml.rels": None},
                              extra=[hostile_files.Member("", b"<x/>")])
    assert outcome(data, "r.xlsx") == "roster_format"


@settings(max_examples=100, deadline=None)
@given(MUTATION)
def test_a_mutated_csv_never_escapes_as_another_error(edits: list[tuple[int, str, bytes]]) -> None:
    outcome(_mutate(GOOD_CSV, edits), "r.csv")


# ---------------------------------------------------------------- each limit, at its edge
# A file right at a limit parses; one unit more is refused. Limits too large to reach
# cheaply are lowered here (they are read at run time, not bound at import).


def _shared_strings_file(count: int, width: int = 1) -> bytes:
    """A valid roster whose strings are shared, padded to ``count`` strings of ``width`` characters."""
    strings = ["姓名", "身份证号", "张三", id_number(1)]
    strings += [f"{i:0{width}d}"[-width:] for i in range(count - len(strings))]
    sheet = (
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        b'<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
    )
    return hostile_files.xlsx(sheet, shared="".join(f"<si><t>{s}</t></si>" for s in strings).encode())


def _padded_rows(blank_rows: int) -> bytes:
    return hostile_files.xlsx(hostile_files.HEADER_ROW + hostile_files.DATA_ROW + b"<row/>" * blank_rows)


def _cells(texts: list[str]) -> bytes:
    return hostile_files.xlsx(
        hostile_files.HEADER_ROW + hostile_files.DATA_ROW + hostile_files.row(3, *texts)
    )


def _nested(depth: int) -> bytes:
    # worksheet, sheetData, row, c, v: five levels before the <x> elements
    inner = b"<x>" * (depth - 5) + b"</x>" * (depth - 5)
    return hostile_files.xlsx(hostile_files.HEADER_ROW + hostile_files.DATA_ROW + b'<row r="3"><c><v>' + inner
                              + b"</v></c></row>")


def _long_attribute(size: int) -> bytes:
    # The run from the "<" of <c to the "<" of </row>
    tag = b'<c r="C3" a="' + b"x" * (size - 15) + b'"/>'
    return hostile_files.xlsx(hostile_files.HEADER_ROW + hostile_files.DATA_ROW + b'<row r="3">' + tag + b"</row>")


def _csv_with(lines: int, problems: int = 0, line_chars: int = 0) -> bytes:
    body = [f"张三,{id_number(1)}"] + [f"李四{n},{id_number(n + 2)}" for n in range(problems)]
    if line_chars:  # a line of line_chars characters with its "\n" (a name too long: a problem, not a refusal)
        body.append("王五," + "x" * (line_chars - 4))
    body += [""] * (lines - len(body) - 1)
    return ("姓名,身份证号\n" + "\n".join(body) + "\n").encode()


LIMIT_CASES = [
    # (limit patched or None, value, builder at the limit, builder one past it, code past it)
    ("_MAX_SHARED_STRINGS", 50, lambda: _shared_strings_file(50), lambda: _shared_strings_file(51), "roster_too_large"),
    # 2 + 4 + 2 + 18 characters of roster, then 96 strings of 10
    ("_MAX_SHARED_CHARS", 986, lambda: _shared_strings_file(100, 10),
     lambda: _shared_strings_file(101, 10), "roster_too_large"),
    ("_MAX_SHEET_ROWS", 100, lambda: _padded_rows(98), lambda: _padded_rows(99), "roster_too_large"),
    (None, None, lambda: _cells(["a"] * 16_384), lambda: _cells(["a"] * 16_385), "roster_too_large"),
    (None, None, lambda: _cells(["x" * 32_767]), lambda: _cells(["x" * 32_768]), "roster_too_large"),
    (None, None, lambda: _cells(["x" * 32_767] * 8), lambda: _cells(["x" * 32_767] * 9), "roster_too_large"),
    (None, None, lambda: _nested(64), lambda: _nested(65), "roster_format"),
    (None, None, lambda: _long_attribute(256 * 1024), lambda: _long_attribute(256 * 1024 + 1), "roster_too_large"),
    ("_MAX_ZIP_MEMBERS", 5, lambda: hostile_files.xlsx(), lambda: hostile_files.xlsx(shared=b""), "roster_too_large"),
    ("_MAX_CSV_LINES", 50, lambda: _csv_with(50), lambda: _csv_with(51), "roster_too_large"),
    ("_MAX_PROBLEMS", 20, lambda: _csv_with(30, problems=20), lambda: _csv_with(30, problems=21),
     "roster_too_many_problems"),
    (None, None, lambda: _csv_with(3, line_chars=100_000), lambda: _csv_with(3, line_chars=100_001),
     "roster_too_large"),
]


@pytest.mark.parametrize(("limit", "value", "at", "past", "code"), LIMIT_CASES)
def test_a_file_at_a_limit_parses_and_one_past_it_is_refused(
    monkeypatch: pytest.MonkeyPatch, limit: str | None, value: int | None, at: Any, past: Any, code: str
) -> None:
    if limit is not None:  # the reader's limits are the spreadsheet module's, the problem count the roster's
        monkeypatch.setattr(roster if limit == "_MAX_PROBLEMS" else spreadsheets, limit, value)
    for build, expected in ((at, None), (past, code)):
        data = build()
        assert outcome(data, "r.xlsx" if data.startswith(b"PK") else "r.csv") == expected


def test_the_problem_limit_names_the_first_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster, "_MAX_PROBLEMS", 3)
    with pytest.raises(Invalid) as info:
        parse_roster(_csv_with(10, problems=4), "r.csv", today=TODAY)
    assert info.value.code == "roster_too_many_problems"
    assert "第3行" in info.value.message and "3" in info.value.message


# ---------------------------------------------------------------- memory, measured

# Run in a fresh interpreter: the files are read from disk (no transient peak from
# building them), then the kernel's peak RSS (VmHWM) is read before and after.
# Where /proc/self/clear_refs accepts "5" the peak is reset between runs, so each
# file gets its own figure; "parallel" starts every file at once in its own thread.
_CHILD = textwrap.dedent(
    """
    import gc, json, pathlib, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    from models.core.errors import Invalid
    from models.members.roster import parse_roster

    def peak_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

    def reset_peak():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def parse(path, filename):
        data = files[path]
        start = time.perf_counter()
        try:
            result = parse_roster(data, filename, max_bytes=int(sys.argv[3]))
            got = {"code": None, "total": result.total, "rows": len(result.rows),
                   "problems": len(result.problems)}
        except Invalid as exc:
            got = {"code": exc.code}
        got["seconds"] = round(time.perf_counter() - start, 2)
        return got

    mode, jobs = sys.argv[2], json.loads(sys.argv[4])
    files = {path: pathlib.Path(path).read_bytes() for path, _ in jobs}
    gc.collect()
    report = {"resettable": reset_peak(), "runs": []}
    if mode == "each":
        for path, filename in jobs:
            gc.collect()
            can_reset = reset_peak()
            before = peak_kib()
            got = parse(path, filename)
            got.update(name=path, growth_kib=peak_kib() - before)
            report["runs"].append(got)
            if not can_reset:
                break  # without a reset, later figures would hide under this peak
    else:
        before = peak_kib()
        barrier = threading.Barrier(len(jobs))
        results = [None] * len(jobs)

        def work(i, path, filename):
            barrier.wait()
            results[i] = parse(path, filename)

        threads = [threading.Thread(target=work, args=(i, p, f)) for i, (p, f) in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report["runs"] = results
        report["growth_kib"] = peak_kib() - before
    print(json.dumps(report))
    """
)
LIMIT_KIB = 50 * 1024  # the brief: no upload may grow the process by more than ~50 MB

needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/self/status")


def _start(tmp_path: Path, mode: str, jobs: list[tuple[str, bytes, str]], *, max_bytes: int = MAX_BYTES) -> Any:
    """Start a child measuring ``jobs`` (label, bytes, filename); :func:`_report` waits for it."""
    paths = []
    for label, data, filename in jobs:
        path = tmp_path / label
        if not path.exists():
            path.write_bytes(data)
        paths.append((str(path), filename))
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ROOT), mode, str(max_bytes), json.dumps(paths)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )


def _report(child: Any) -> Any:
    out, err = child.communicate(timeout=600)
    assert child.returncode == 0, err[-3000:]
    report = json.loads(out)
    for run in report["runs"]:
        if "name" in run:
            run["name"] = Path(run["name"]).name
    return report


def _measure(tmp_path: Path, mode: str, jobs: list[tuple[str, bytes, str]], *, max_bytes: int = MAX_BYTES) -> Any:
    return _report(_start(tmp_path, mode, jobs, max_bytes=max_bytes))


def _bomb_jobs() -> list[tuple[str, bytes, str]]:
    return [(case.name, built(case.name), case.filename) for case in CATALOGUE if case.bomb]


@needs_proc
def test_each_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    report = _measure(tmp_path, "each", _bomb_jobs())
    print("\nparse_roster on each bomb, alone (peak RSS growth):")
    for run in report["runs"]:
        print(f"  {run['name']:40s} {run['growth_kib'] / 1024:7.1f} MiB  {run['seconds']:6.2f} s  -> {run['code']}")
    if not report["resettable"]:
        print("  (/proc/self/clear_refs not writable: only the first file measured)")
    for run in report["runs"]:
        assert run["code"] == CASES[run["name"]].code, run
        assert run["growth_kib"] < LIMIT_KIB, run


# One of each kind: zip bombs the directory admits or understates, CSV bombs, and a
# file that fills the shared-string table to its limit.
PARALLEL = [
    "cell_bomb", "shared_string_bomb_understated", "many_rows_bomb_understated",
    "many_columns_bomb_understated", "many_distinct_shared_strings", "csv_enormous_line",
    "csv_many_bad_rows", "csv_many_blank_lines",
]


@needs_proc
def test_eight_bombs_in_parallel_stay_under_50_mb(tmp_path: Path) -> None:
    jobs = [(f"{name}.{i}", built(name), CASES[name].filename) for i, name in enumerate(PARALLEL)]
    report = _measure(tmp_path, "parallel", jobs)
    print(f"\n8 bombs parsed in parallel threads: peak RSS growth {report['growth_kib'] / 1024:.1f} MiB "
          f"({', '.join(name.rsplit('.', 1)[0] for name, _, _ in jobs)})")
    for (name, _, _), run in zip(jobs, report["runs"]):
        assert run["code"] == CASES[name.rsplit(".", 1)[0]].code, (name, run)
    assert report["growth_kib"] < LIMIT_KIB


# ---------------------------------------------------------------- real rosters still parse


def _legit_rows(count: int) -> list[tuple[str, str, str, str]]:
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊军洋勇艳杰娟涛"
    rows = []
    for i in range(count):
        first17 = f"430102{1950 + i // 10000 % 50}{i // 1000 % 10 + 1:02d}{i // 100 % 10 + 1:02d}{i % 100:03d}"
        rows.append((surnames[i % 10] + given[i % 15] + given[i // 15 % 15], first17 + hostile_files._check_digit(first17),
                     f"13{i:09d}", f"第{i % 300}机械厂"))
    return rows


def legit_xlsx(count: int) -> bytes:
    """A roster laid out as Excel writes it: shared strings, cell references, row numbers."""
    strings: dict[str, int] = {}
    body = []
    for number, values in enumerate([("姓名", "身份证号", "手机号", "工作单位"), *_legit_rows(count)], start=1):
        cells = "".join(
            f'<c r="{"ABCD"[col]}{number}" s="1" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'
            for col, value in enumerate(values)
        )
        body.append(f'<row r="{number}" spans="1:4">{cells}</row>')
    shared = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return hostile_files.xlsx("".join(body).encode(), shared=shared.encode(), level=1)


def legit_csv(count: int) -> bytes:
    lines = ["姓名,身份证号,手机号,工作单位"] + [",".join(row) for row in _legit_rows(count)]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


@needs_proc
def test_a_100k_row_roster_still_parses(tmp_path: Path) -> None:
    # One child per file, both at once: each figure is its own, and the wait is the longer one.
    children = [
        _start(tmp_path, "each", [("legit.xlsx", legit_xlsx(100_000), "roster.xlsx")], max_bytes=50 * 1024 * 1024),
        _start(tmp_path, "each", [("legit.csv", legit_csv(100_000), "roster.csv")], max_bytes=50 * 1024 * 1024),
    ]
    runs = [run for child in children for run in _report(child)["runs"]]
    print("\nparse_roster on a real-looking 100,000-row roster (peak RSS growth):")
    for run in runs:
        print(f"  {run['name']:12s} {run['growth_kib'] / 1024:7.1f} MiB  {run['seconds']:6.2f} s  "
              f"rows={run.get('rows')} problems={run.get('problems')}")
    for run in runs:
        assert (run["code"], run["total"], run["rows"], run["problems"]) == (None, 100_000, 100_000, 0), run


def test_legit_generators_are_what_they_claim() -> None:
    data = legit_xlsx(3)
    result = parse_roster(data, "r.xlsx", today=TODAY)
    assert [r.line for r in result.rows] == [2, 3, 4] and result.rows[0].employer == "第0机械厂"
    result = parse_roster(legit_csv(3), "r.csv", today=TODAY)
    assert result.encoding == "gb18030" and len(result.rows) == 3
