"""Course packages (DESIGN.md): read a folder or .zip, validate everything, report `file:line`.

`read_package()` never touches the database: it returns the parsed package and every problem
found. The caller passes what it knows of the world (skill ids, course slugs that exist).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lms.core import archives
from lms.courses import yamllines
from lms.courses.authoring_limits import package_question_problems
from lms.courses.lesson_types import DEFAULT_FILE_TYPE, FILE_LESSON_TYPES, LESSON_TYPES, MEDIA_KEYS
from lms.courses.models import LANGUAGES
from lms.courses.question_types import QUESTION_TYPES
from lms.courses.quiz_settings import MAX_DRAW, REVIEW_POLICIES, bank_data
from lms.tenancy.models import SECTORS

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
COURSE_KEYS = {
    "slug",
    "version",
    "language",
    "title",
    "summary",
    "sector",
    "hours",
    "skills",
    "prerequisites",
    "pass_mark",
    "modules",
}
REQUIRED_COURSE_KEYS = ("slug", "version", "language", "title", "sector", "hours", "modules")
FRONT_MATTER_KEYS = {"title", "minutes", "type", *MEDIA_KEYS}
QUIZ_KEYS = {
    "title",
    "pass_mark",
    "attempts",
    "shuffle",
    "time_limit_minutes",
    "draw",
    "review",
    "questions",
}
QUESTION_KEYS = {"type", "prompt", "choices", "answer", "explanation"}
MAX_FILE_BYTES = 200 * 1024 * 1024  # the lesson video upload limit (lms.courses.uploads)
MAX_FILES = 2000
# A zipped package is read into memory whole, so its inflated total is bounded: five videos
# at the 200 MB upload limit. The demo packages are under 100 KB; media (MP4, WebM, PDF,
# images) is already compressed and inflates about 1:1, Markdown and YAML 3–5:1, so a ratio
# of 100 is only reached by a bomb (a 460 KB zip of zeros expands to 450 MB, ratio 1,000).
# Every file may sit in a folder of its own, and folders have entries too: 2 × MAX_FILES.
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
ZIP_LIMITS = archives.ZipLimits(max_entries=2 * MAX_FILES, max_total=MAX_TOTAL_BYTES, max_ratio=100)
LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")


@dataclass
class PackageLesson:
    key: str
    type: str
    title: str
    minutes: int = 0
    body: str = ""
    media_path: str | None = None
    data: dict = field(default_factory=dict)
    questions: list[dict] = field(default_factory=list)


@dataclass
class PackageModule:
    title: str
    lessons: list[PackageLesson] = field(default_factory=list)


@dataclass
class Package:
    source: str
    meta: dict = field(default_factory=dict)
    modules: list[PackageModule] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str | None:
        return self.meta.get("slug") if isinstance(self.meta.get("slug"), str) else None

    @property
    def lessons(self) -> list[PackageLesson]:
        return [lesson for m in self.modules for lesson in m.lessons]


def safe_relative(path: object) -> str | None:
    """The normalised package-relative path, or None if it is absolute or leaves the package."""
    if not isinstance(path, str) or not path or "\\" in path or "\x00" in path:
        return None
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or path.startswith("~") or re.match(r"^[a-zA-Z]:", path):
        return None
    return str(p)


def _read_files(source: Path) -> tuple[dict[str, bytes], list[str]]:
    """All files of a package folder or zip as {relative path: bytes}."""
    files: dict[str, bytes] = {}
    problems: list[str] = []
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_symlink():
                problems.append(f"{path.relative_to(source)}:1: symbolic links are not allowed")
            elif path.is_file():
                if len(files) >= MAX_FILES:
                    problems.append(f"{source.name}:1: more than {MAX_FILES} files")
                    break
                if path.stat().st_size > MAX_FILE_BYTES:
                    problems.append(f"{path.relative_to(source)}:1: file larger than 200 MB")
                    continue
                files[path.relative_to(source).as_posix()] = path.read_bytes()
        return files, problems
    try:
        archive = archives.open_zip(source, ZIP_LIMITS)
    except archives.ArchiveError as exc:
        if exc.kind == "damaged":
            return {}, [f"{source.name}:1: not a package folder or a .zip file"]
        return {}, [f"{source.name}:1: {exc}"]
    with archive:
        names = [i for i in archive.infolist() if not i.is_dir()]
        if len(names) > MAX_FILES:
            return {}, [f"{source.name}:1: more than {MAX_FILES} files"]
        tops = {PurePosixPath(i.filename).parts[0] for i in names if i.filename}
        strip = len(tops) == 1 and not any(i.filename == "course.yaml" for i in names)
        for info in names:
            name = info.filename
            rel = safe_relative(name)
            if rel is None:
                problems.append(f"{name}:1: unsafe path in the zip (absolute or '..')")
                continue
            if strip:
                rel = str(PurePosixPath(*PurePosixPath(rel).parts[1:]))
            if info.file_size > MAX_FILE_BYTES:
                problems.append(f"{rel}:1: file larger than 200 MB")
                continue
            try:
                files[rel] = archives.read_entry(archive, info, ZIP_LIMITS)
            except archives.ArchiveError as exc:
                return {}, [*problems, f"{source.name}:1: {exc}"]
    return files, problems


def read_package(source: Path, *, known_skills: set[str], known_courses: set[str]) -> Package:
    """Parse and validate one package; `problems` lists every problem as `file:line: message`."""
    package = Package(source=str(source))
    files, package.problems = _read_files(source)
    if "course.yaml" not in files:
        package.problems.append("course.yaml:1: missing: a package needs course.yaml at its root")
        return package
    checker = _Checker(package, files, known_skills, known_courses)
    checker.check_course()
    return package


class _Checker:
    def __init__(self, package, files, known_skills, known_courses):
        self.p = package
        self.files = files
        self.known_skills = known_skills
        self.known_courses = known_courses
        self.keys_seen: dict[str, str] = {}

    def error(self, file: str, line: int, message: str) -> None:
        self.p.problems.append(f"{file}:{line}: {message}")

    def text(self, name: str, line_ref: tuple[str, int]) -> str | None:
        data = self.files.get(name)
        if data is None:
            self.error(*line_ref, f"file not found in the package: {name}")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.error(name, 1, "not UTF-8 text")
            return None

    def path_ref(self, file, lines, path, value, *, under: str | None = None) -> str | None:
        line = yamllines.line_of(lines, path)
        rel = safe_relative(value)
        if rel is None:
            self.error(
                file,
                line,
                f"unsafe path {value!r}: paths are relative to the package and may not leave it",
            )
            return None
        if under and not rel.startswith(under + "/"):
            self.error(file, line, f"{rel} must be under {under}/")
            return None
        if rel not in self.files:
            self.error(file, line, f"file not found in the package: {rel}")
            return None
        return rel

    # -- course.yaml ---------------------------------------------------------------------

    def check_course(self) -> None:
        f = "course.yaml"
        text = self.text(f, (f, 1))
        if text is None:
            return
        try:
            meta, lines = yamllines.load(text)
        except yamllines.YamlError as exc:
            self.error(f, exc.line, exc.message)
            return
        if not isinstance(meta, dict):
            self.error(f, 1, "course.yaml must be a mapping of keys")
            return
        self.p.meta = meta
        for key in meta:
            if key not in COURSE_KEYS:
                self.error(f, lines[(key,)], f"unknown key {key!r}")
        for key in REQUIRED_COURSE_KEYS:
            if key not in meta:
                self.error(f, 1, f"missing key {key!r}")
        line = lambda *path: yamllines.line_of(lines, path)  # noqa: E731
        slug = meta.get("slug")
        if "slug" in meta and not (isinstance(slug, str) and SLUG_RE.match(slug)):
            self.error(f, line("slug"), "slug must be lower-case letters, digits and dashes")
        version = meta.get("version")
        if "version" in meta and not (
            isinstance(version, int) and not isinstance(version, bool) and version >= 1
        ):
            self.error(f, line("version"), "version must be a whole number of at least 1")
        if "language" in meta and meta["language"] not in LANGUAGES:
            self.error(f, line("language"), f"language must be one of {', '.join(LANGUAGES)}")
        for key in ("title", "summary"):
            if key in meta and not (isinstance(meta[key], str) and meta[key].strip()):
                self.error(f, line(key), f"{key} must be a non-empty text")
        if "sector" in meta and meta["sector"] not in SECTORS:
            self.error(f, line("sector"), f"unknown sector {meta['sector']!r}")
        hours = meta.get("hours")
        if "hours" in meta and not (
            isinstance(hours, int | float) and not isinstance(hours, bool) and 0 < hours <= 1000
        ):
            self.error(f, line("hours"), "hours must be a number between 0 and 1000")
        pass_mark = meta.get("pass_mark", 60)
        if not (isinstance(pass_mark, int) and 0 <= pass_mark <= 100):
            self.error(f, line("pass_mark"), "pass_mark must be a whole number from 0 to 100")
        self.check_skills(f, lines, ("skills",), meta.get("skills", []))
        prereqs = meta.get("prerequisites", [])
        if not isinstance(prereqs, list):
            self.error(f, line("prerequisites"), "prerequisites must be a list of course slugs")
        else:
            for i, pre in enumerate(prereqs):
                if pre == slug:
                    self.error(f, line("prerequisites", i), "a course cannot require itself")
                elif pre not in self.known_courses:
                    self.error(f, line("prerequisites", i), f"unknown prerequisite course {pre!r}")
        modules = meta.get("modules")
        if "modules" in meta and not (isinstance(modules, list) and modules):
            self.error(f, line("modules"), "modules must be a non-empty list")
            return
        for mi, module in enumerate(modules or []):
            self.check_module(f, lines, mi, module)

    def check_skills(self, f, lines, path, skills) -> list[dict]:
        if not isinstance(skills, list):
            self.error(f, yamllines.line_of(lines, path), "skills must be a list of {skill, level}")
            return []
        for i, entry in enumerate(skills):
            at = yamllines.line_of(lines, (*path, i))
            if not isinstance(entry, dict) or set(entry) != {"skill", "level"}:
                self.error(f, at, "each skill is {skill: <skill id>, level: 1–5}")
                continue
            if entry["skill"] not in self.known_skills:
                self.error(f, at, f"unknown skill {entry['skill']!r}")
            level = entry["level"]
            if not (isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 5):
                self.error(f, at, f"bad level {level!r}: levels are 1–5")
        return skills

    def check_module(self, f, lines, mi, module) -> None:
        at = yamllines.line_of(lines, ("modules", mi))
        if not isinstance(module, dict):
            self.error(f, at, "a module is {title, lessons}")
            return
        for key in module:
            if key not in ("title", "lessons"):
                self.error(f, lines[("modules", mi, key)], f"unknown key {key!r} in a module")
        title = module.get("title")
        if not (isinstance(title, str) and title.strip()):
            self.error(f, at, "a module needs a title")
        entries = module.get("lessons")
        if not (isinstance(entries, list) and entries):
            self.error(f, at, "a module needs a non-empty list of lessons")
            entries = []
        pm = PackageModule(title=str(title or ""))
        self.p.modules.append(pm)
        for li, entry in enumerate(entries):
            lesson = self.check_entry(f, lines, ("modules", mi, "lessons", li), entry)
            if lesson is not None:
                if lesson.key in self.keys_seen:
                    self.error(
                        f,
                        yamllines.line_of(lines, ("modules", mi, "lessons", li)),
                        f"{lesson.key} is already used at {self.keys_seen[lesson.key]}",
                    )
                    continue
                self.keys_seen[lesson.key] = (
                    f"{f}:{yamllines.line_of(lines, ('modules', mi, 'lessons', li))}"
                )
                pm.lessons.append(lesson)

    def check_entry(self, f, lines, path, entry) -> PackageLesson | None:
        at = yamllines.line_of(lines, path)
        kinds = [k for k in ENTRIES if isinstance(entry, dict) and k in entry]
        if len(kinds) != 1:
            self.error(
                f,
                at,
                "a lesson entry is {file: ...}, {quiz: ...} or {practical: ..., checklist: [...]}",
            )
            return None
        kind = kinds[0]
        spec = ENTRIES[kind]
        for key in entry:
            if key not in spec.keys:
                self.error(f, lines[(*path, key)], f"unknown key {key!r} in a {kind} entry")
        if spec.folder is None:  # the entry is the lesson itself
            return spec.read(self, f, lines, path, entry)
        rel = self.path_ref(f, lines, (*path, kind), entry[kind], under=spec.folder)
        if rel is None:
            return None
        return spec.read(self, rel)

    def check_practical(self, f, lines, path, entry) -> PackageLesson | None:
        title = entry.get("practical")
        at = yamllines.line_of(lines, path)
        if not (isinstance(title, str) and title.strip()):
            self.error(f, at, "a practical task needs a title")
            return None
        checklist = entry.get("checklist")
        if not (
            isinstance(checklist, list)
            and checklist
            and all(isinstance(c, str) and c.strip() for c in checklist)
        ):
            self.error(
                f,
                yamllines.line_of(lines, (*path, "checklist")),
                "a practical task needs a checklist: a list of non-empty items",
            )
            checklist = []
        skills = self.check_skills(f, lines, (*path, "skills"), entry.get("skills", []))
        practical = LESSON_TYPES["practical"]
        return PackageLesson(
            key=practical.title_key(title.strip()),
            type=practical.name,
            title=title.strip(),
            data={"checklist": [c.strip() for c in checklist], "skills": skills},
        )

    def check_lesson_file(self, rel: str) -> PackageLesson | None:
        text = self.text(rel, (rel, 1))
        if text is None:
            return None
        front, body, body_line = {}, text, 1
        if text.startswith("---\n") or text.startswith("---\r\n"):
            end = re.search(r"^---\s*$", text[4:], re.MULTILINE)
            if end is None:
                self.error(rel, 1, "front matter starts with --- but never ends")
                return None
            raw = text[4 : 4 + end.start()]
            try:
                front, flines = yamllines.load(raw, first_line=2)
            except yamllines.YamlError as exc:
                self.error(rel, exc.line, exc.message)
                return None
            front = front or {}
            if not isinstance(front, dict):
                self.error(rel, 2, "front matter must be a mapping of keys")
                return None
            body = text[4 + end.end() :].lstrip("\r\n")
            body_line = text[: len(text) - len(body)].count("\n") + 1
            for key in front:
                if key not in FRONT_MATTER_KEYS:
                    self.error(rel, flines[(key,)], f"unknown front-matter key {key!r}")
        else:
            flines = {}
        ltype = front.get("type", DEFAULT_FILE_TYPE)
        if ltype not in FILE_LESSON_TYPES:
            self.error(rel, flines.get(("type",), 2), f"unknown lesson type {ltype!r}")
            return None
        media_path = None
        media_key = LESSON_TYPES[ltype].media
        for key in MEDIA_KEYS:  # every path in front matter, even one the type ignores
            if key in front and key != media_key and safe_relative(front[key]) is None:
                self.error(
                    rel,
                    flines[(key,)],
                    f"unsafe path {front[key]!r}: paths are relative to the package "
                    "and may not leave it",
                )
        if media_key:
            if media_key not in front:
                self.error(rel, 2, f"a {ltype} lesson needs `{media_key}: media/...`")
            else:
                media_path = self.path_ref(
                    rel, flines, (media_key,), front[media_key], under="media"
                )
        minutes = front.get("minutes", 0)
        if not (isinstance(minutes, int) and not isinstance(minutes, bool) and 0 <= minutes <= 600):
            self.error(rel, flines.get(("minutes",), 2), "minutes must be a whole number 0–600")
            minutes = 0
        title = front.get("title")
        if not title:
            heading = re.search(r"^#\s+(.+)$", body, re.MULTILINE)
            title = heading.group(1).strip() if heading else None
        if not (isinstance(title, str) and title.strip()):
            self.error(rel, body_line, "no title: add `title:` front matter or a # heading")
            return None
        for n, row in enumerate(body.splitlines(), start=body_line):
            for target in LINK_RE.findall(row):
                if re.match(r"^(https?:|mailto:|#)", target):
                    continue
                if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                    self.error(rel, n, f"link scheme not allowed: {target}")
                    continue
                safe = safe_relative(target)
                if safe is None:
                    self.error(rel, n, f"unsafe path {target!r}: paths may not leave the package")
                elif safe not in self.files:
                    self.error(rel, n, f"file not found in the package: {safe}")
                elif safe.startswith("media/"):
                    self.p.media[safe] = self.files[safe]
        if media_path:
            self.p.media[media_path] = self.files[media_path]
        return PackageLesson(
            key=rel,
            type=ltype,
            title=title.strip(),
            minutes=minutes,
            body=body,
            media_path=media_path,
        )

    def check_quiz(self, rel: str) -> PackageLesson | None:
        text = self.text(rel, (rel, 1))
        if text is None:
            return None
        try:
            quiz, lines = yamllines.load(text)
        except yamllines.YamlError as exc:
            self.error(rel, exc.line, exc.message)
            return None
        if not isinstance(quiz, dict):
            self.error(rel, 1, "a quiz file is a mapping with title and questions")
            return None
        for key in quiz:
            if key not in QUIZ_KEYS:
                self.error(rel, lines[(key,)], f"unknown key {key!r}")
        line = lambda *path: yamllines.line_of(lines, path)  # noqa: E731
        title = quiz.get("title")
        if not (isinstance(title, str) and title.strip()):
            self.error(rel, 1, "a quiz needs a title")
        pass_mark = quiz.get("pass_mark", 60)
        if not (isinstance(pass_mark, int) and 0 <= pass_mark <= 100):
            self.error(rel, line("pass_mark"), "pass_mark must be a whole number from 0 to 100")
        attempts = quiz.get("attempts", 0)
        if not (isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 0):
            self.error(rel, line("attempts"), "attempts must be a whole number (0 = unlimited)")
        if not isinstance(quiz.get("shuffle", False), bool):
            self.error(rel, line("shuffle"), "shuffle must be true or false")
        limit = quiz.get("time_limit_minutes")
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 600):
            self.error(rel, line("time_limit_minutes"), "time_limit_minutes must be 1–600")
        questions = quiz.get("questions")
        if not (isinstance(questions, list) and questions):
            self.error(
                rel,
                line("questions") if "questions" in quiz else 1,
                "a quiz needs a non-empty list of questions",
            )
            questions = []
        parsed = []
        for qi, q in enumerate(questions):
            at = line("questions", qi)
            if not isinstance(q, dict):
                self.error(rel, at, f"question {qi + 1}: a question is a mapping")
                continue
            for key in q:
                if key not in QUESTION_KEYS:
                    self.error(
                        rel,
                        lines[("questions", qi, key)],
                        f"question {qi + 1}: unknown key {key!r}",
                    )
            qtype = QUESTION_TYPES.get(q.get("type")) if isinstance(q.get("type"), str) else None
            if qtype is None:
                self.error(
                    rel,
                    at,
                    f"question {qi + 1}: unknown type {q.get('type')!r} "
                    f"(use {', '.join(QUESTION_TYPES)})",
                )
                continue
            if not (isinstance(q.get("prompt"), str) and q["prompt"].strip()):
                self.error(rel, at, f"question {qi + 1}: a prompt is required")
            for path, problem in package_question_problems(q):  # lengths: authoring_limits
                self.error(rel, line("questions", qi, *path), f"question {qi + 1}: {problem}")
            if "answer" not in q:
                self.error(rel, at, f"question {qi + 1}: an answer is required")
                continue
            choices = q.get("choices") or []
            for problem in qtype.problems(choices, q["answer"]):
                self.error(rel, at, f"question {qi + 1}: {problem}")
            choices, answer = qtype.from_package(choices, q["answer"])
            parsed.append(
                {
                    "type": qtype.name,
                    "prompt": str(q.get("prompt", "")).strip(),
                    "choices": choices,
                    "answer": answer,
                    "explanation": str(q.get("explanation") or "").strip(),
                }
            )
        draw, review = self.check_bank(rel, line, quiz, len(questions))
        return PackageLesson(
            key=rel,
            type="quiz",
            title=str(title or rel).strip(),
            data={
                "pass_mark": pass_mark,
                "attempts": attempts,
                "shuffle": bool(quiz.get("shuffle", False)),
                "time_limit_minutes": limit,
                **bank_data(draw=draw, review=review),
            },
            questions=parsed,
        )

    def check_bank(self, rel, line, quiz, bank_size: int) -> tuple[int | None, str | None]:
        """`draw` (questions per attempt, 1 to the number of questions) and `review` (when the
        correct answers are shown); (None, None) for what is absent or wrong."""
        draw = quiz.get("draw")
        upper = min(max(bank_size, 1), MAX_DRAW)
        if "draw" in quiz and not (
            isinstance(draw, int) and not isinstance(draw, bool) and 1 <= draw <= upper
        ):
            self.error(
                rel,
                line("draw"),
                f"draw must be a whole number from 1 to {upper}: the questions each attempt "
                f"asks, out of the {bank_size} in the quiz",
            )
            draw = None
        review = quiz.get("review")
        if "review" in quiz and not (isinstance(review, str) and review in REVIEW_POLICIES):
            self.error(rel, line("review"), f"review must be one of {', '.join(REVIEW_POLICIES)}")
            review = None
        return draw, review


@dataclass(frozen=True)
class Entry:
    """One kind of lesson entry of course.yaml (DESIGN.md): the keys it may carry, the folder
    its file lies under (None: the entry is the lesson itself) and its reader."""

    keys: frozenset[str]
    folder: str | None
    read: object


# The entry kinds of the package format; the lesson types say which one brings each of them
# (LessonType.entry) and how they export to it.
ENTRIES = {
    "file": Entry(frozenset({"file"}), "lessons", _Checker.check_lesson_file),
    "quiz": Entry(frozenset({"quiz"}), "quizzes", _Checker.check_quiz),
    "practical": Entry(
        frozenset({"practical", "checklist", "skills"}), None, _Checker.check_practical
    ),
}


def find_packages(root: Path) -> list[Path]:
    """One package (a folder with course.yaml, or a .zip), or every package inside a folder."""
    if root.is_file() or (root / "course.yaml").exists():
        return [root]
    return sorted(p for p in root.iterdir() if (p / "course.yaml").exists() or p.suffix == ".zip")
