"""Explainable course recommendations from skill gaps: pure functions over arrays.

No database access here: callers pass plain data (profiles, roles, courses, history) and get
ranked courses back, each with the gaps it closes as its reason. Three signals are combined:

- coverage: how much of the worker's gap a course closes, weighted by gap size, with full
  credit only when the course reaches the required level;
- content: TF-IDF similarity between the gap skills' descriptions and the course text, with
  character n-grams so Chinese needs no word segmentation;
- collaborative: what workers with similar profiles completed (nearest neighbours).

The maths lives in `lms.skills.engine` (one batch engine for one worker or 100,000); the
functions here are the one-worker API on top of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from lms.skills.engine import (
    MAX_LEVEL,
    WEIGHTS,
    CourseIndex,
    RankResult,
    WorkerBatch,
    build_index,
    coverage_matrix,
    level_ladder,
    neighbour_scores,
    peer_group,
    rank_workers,
    text_matrices,
)
from lms.taxonomy.models import LEVEL_NAMES

__all__ = [
    "WEIGHTS",
    "Course",
    "Gap",
    "Recommendation",
    "collaborative_scores",
    "content_scores",
    "coverage_scores",
    "find_gaps",
    "learning_path",
    "reason_text",
    "recommend",
    "recommendations",
]


@dataclass(frozen=True)
class Course:
    slug: str
    title: str
    text: str
    hours: float
    skills: Mapping[str, int]  # skill id → level the course reaches
    prerequisites: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gap:
    skill: str
    held: int
    required: int

    @property
    def size(self) -> int:
        return self.required - self.held


@dataclass(frozen=True)
class Recommendation:
    slug: str
    score: float
    closes: tuple[Gap, ...]  # gaps the course closes to the required level
    narrows: tuple[Gap, ...] = ()  # gaps it reduces without closing
    after: str | None = None  # a prerequisite that must come first (also recommended)
    signals: dict[str, float] = field(default_factory=dict)


def find_gaps(required: Mapping[str, int], held: Mapping[str, int]) -> list[Gap]:
    """Required level − held level per skill, where positive; biggest gaps first."""
    gaps = [
        Gap(s, held.get(s, 0), level) for s, level in required.items() if level > held.get(s, 0)
    ]
    return sorted(gaps, key=lambda g: (-g.size, g.skill))


def _gap_rows(gaps: Sequence[Gap], skill_index: Mapping[str, int]):
    """1 × S required and held rows for the gap skills the index knows."""
    n_skills = len(skill_index)
    required = np.zeros((1, n_skills), np.float32)
    held = np.zeros((1, n_skills), np.float32)
    for g in gaps:
        j = skill_index.get(g.skill)
        if j is not None and g.required > g.held:
            required[0, j] = min(g.required, MAX_LEVEL)
            held[0, j] = max(g.held, 0)
    return required, held


def coverage_scores(courses: Sequence[Course], gaps: Sequence[Gap]) -> np.ndarray:
    """Share of the total gap (weighted by size) each course closes; partial credit when a
    course raises a skill but not to the required level."""
    skill_index = {g.skill: j for j, g in enumerate(gaps)}
    rows, cols, vals = [], [], []
    for i, course in enumerate(courses):
        for skill, level in course.skills.items():
            if skill in skill_index and level > 0:
                rows.append(i)
                cols.append(skill_index[skill])
                vals.append(min(int(level), MAX_LEVEL))
    levels = sparse.csr_matrix(
        (np.array(vals, np.int8), (np.array(rows, np.int64), np.array(cols, np.int64))),
        shape=(len(courses), len(skill_index)),
    )
    required, held = _gap_rows(gaps, skill_index)
    return coverage_matrix(level_ladder(levels), required, held).toarray()[0].astype(float)


def content_scores(gap_texts: Sequence[str], course_texts: Sequence[str]) -> np.ndarray:
    """Cosine similarity of the gap skills' text to each course's text (char 1–3-grams): the
    query is the sum of the gap texts' unit TF-IDF vectors, as in the batch engine."""
    texts = [t for t in gap_texts if t.strip()]
    if not texts or not course_texts:
        return np.zeros(len(course_texts))
    sim, gram = text_matrices(texts, course_texts)
    norm = float(np.sqrt(max(gram.sum(), 0.0)))
    if not norm:
        return np.zeros(len(course_texts))
    return np.clip(sim.sum(axis=0) / norm, 0.0, 1.0).astype(float)


def collaborative_scores(
    profile: np.ndarray, peer_profiles: np.ndarray, peer_completions: np.ndarray, *, k: int = 10
) -> np.ndarray:
    """How often the k most similar peers completed each course, weighted by similarity.

    `profile` is one worker's vector (skill levels, role one-hot …), `peer_profiles` one row per
    peer, `peer_completions` a peers × courses 0/1 matrix.
    """
    n_courses = peer_completions.shape[1] if peer_completions.ndim == 2 else 0
    if len(peer_profiles) == 0 or n_courses == 0 or not np.any(profile):
        return np.zeros(n_courses)
    pool = peer_group(np.arange(len(peer_profiles)), peer_profiles, peer_completions)
    row = np.asarray(profile, np.float32).reshape(1, -1)
    return neighbour_scores(row, pool, k).toarray()[0].astype(float)


def recommend(
    courses: Sequence[Course],
    gaps: Sequence[Gap],
    *,
    skill_texts: Mapping[str, str],
    completed: Iterable[str] = (),
    in_progress: Iterable[str] = (),
    collaborative: np.ndarray | None = None,
    limit: int = 5,
    weights: Mapping[str, float] = WEIGHTS,
    index: CourseIndex | None = None,
) -> list[Recommendation]:
    """Courses ranked for one worker, each with the gaps it closes.

    Completed and in-progress courses are excluded. A course whose prerequisite is neither
    completed nor in progress is kept only if that prerequisite is recommended too, and then
    right after it; otherwise it is dropped. `collaborative` is one score per course (in
    `courses` order). Pass a prebuilt `index` (`build_index` over the same `courses`) to skip
    indexing the catalogue on every call; gap skills outside `index.skill_ids` are then ignored.
    """
    if index is None:
        skill_ids = sorted(
            {*skill_texts, *(g.skill for g in gaps), *(s for c in courses for s in c.skills)}
        )
        index = build_index(courses, skill_texts, skill_ids)
    elif len(courses) != len(index.slugs):
        raise ValueError("the index was built over another catalogue")
    if not gaps or not index.slugs or limit <= 0:
        return []
    n_courses = len(index.slugs)
    required, held = _gap_rows(gaps, index.skill_index)
    done, busy = set(completed), set(in_progress)

    def row(slugs: set[str]) -> sparse.csr_matrix:
        cols = sorted(index.slug_index[s] for s in slugs if s in index.slug_index)
        return sparse.csr_matrix(
            (np.ones(len(cols), np.float32), cols, [0, len(cols)]), shape=(1, n_courses)
        )

    external = None
    if index.external_prerequisites.any():  # prerequisites outside the catalogue, if done
        ok = [
            i
            for i in np.flatnonzero(index.external_prerequisites)
            if all(
                p in index.slug_index or p in done | busy for p in index.courses[i].prerequisites
            )
        ]
        external = row({index.slugs[i] for i in ok})
    collab = (
        sparse.csr_matrix((1, n_courses), dtype=np.float32)
        if collaborative is None
        else np.asarray(collaborative, np.float32).reshape(1, n_courses)
    )
    batch = WorkerBatch(
        required=sparse.csr_matrix(required),
        held=sparse.csr_matrix(held),
        completed=row(done),
        in_progress=row(busy),
        external_satisfied=external,
    )
    result = rank_workers(index, batch, k=limit, weights=weights, collaborative=collab)
    return recommendations(index, result, 0, gaps)


def recommendations(
    index: CourseIndex, result: RankResult, row: int, gaps: Sequence[Gap]
) -> list[Recommendation]:
    """One worker's row of a RankResult as Recommendation objects (gaps: that worker's)."""
    recs = []
    for j, c in enumerate(result.courses[row]):
        if c < 0:
            break
        course = index.courses[c]
        after = result.after[row, j]
        recs.append(
            Recommendation(
                course.slug,
                round(float(result.scores[row, j]), 4),
                tuple(g for g in gaps if course.skills.get(g.skill, 0) >= g.required),
                tuple(g for g in gaps if g.held < course.skills.get(g.skill, 0) < g.required),
                index.slugs[after] if after >= 0 else None,
                {name: round(float(v[row, j]), 4) for name, v in result.signals.items()},
            )
        )
    return recs


def learning_path(
    courses: Sequence[Course], gaps: Sequence[Gap], *, completed: Iterable[str] = ()
) -> tuple[list[Course], float, list[Gap]]:
    """An ordered list of courses closing every gap it can, prerequisites first.

    Greedy: repeatedly take the course closing the most remaining gap per study hour; its
    missing prerequisites go in before it. Returns (courses, total hours, gaps left open).
    """
    done = set(completed)
    by_slug = {c.slug: c for c in courses}
    open_gaps = {g.skill: g for g in gaps}
    path: list[Course] = []

    def add(course: Course, stack: tuple[str, ...] = ()) -> None:
        if course.slug in done or course.slug in stack:
            return
        for pre in course.prerequisites:
            if pre in by_slug:
                add(by_slug[pre], (*stack, course.slug))
        if course.slug not in done:
            path.append(course)
            done.add(course.slug)
            for skill, level in course.skills.items():
                if skill in open_gaps and level >= open_gaps[skill].required:
                    del open_gaps[skill]

    while open_gaps:
        best, best_value = None, 0.0
        for course in courses:
            if course.slug in done:
                continue
            closed = sum(
                g.size for s, g in open_gaps.items() if course.skills.get(s, 0) >= g.required
            )
            value = closed / max(course.hours, 0.5)
            if value > best_value:
                best, best_value = course, value
        if best is None:
            break
        add(best)
    return path, float(sum(c.hours for c in path)), list(open_gaps.values())


def reason_text(gap: Gap, skill_name: str, locale: str) -> str:
    """'补齐岗位要求：PLC 梯形图编程 三级/高级工（当前 一级/初级工）' in the viewer's language."""
    zh = not locale.startswith("en")
    required = LEVEL_NAMES[gap.required][0 if zh else 1]
    held = LEVEL_NAMES[gap.held][0 if zh else 1] if gap.held else ("无" if zh else "none")
    if zh:
        return f"补齐岗位要求：{skill_name} {required}（当前 {held}）"
    return f"Closes a role requirement: {skill_name} at {required} (now {held})"


def narrow_text(gap: Gap, skill_name: str, reaches: int, locale: str) -> str:
    """'提升：PLC 编程 至 四级/中级工（岗位要求 三级/高级工，当前 五级/初级工）'."""
    zh = not locale.startswith("en")
    name = lambda level: LEVEL_NAMES[level][0 if zh else 1] if level else ("无" if zh else "none")  # noqa: E731
    if zh:
        return (
            f"提升：{skill_name} 至 {name(reaches)}（岗位要求 {name(gap.required)}，"
            f"当前 {name(gap.held)}）"
        )
    return (
        f"Raises {skill_name} to {name(reaches)} (the role requires {name(gap.required)}; "
        f"now {name(gap.held)})"
    )
