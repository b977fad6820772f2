"""Explainable course recommendations from skill gaps: pure functions over arrays.

No database access here: callers pass plain data (profiles, roles, courses, history) and get
ranked courses back, each with the gaps it closes as its reason. Three signals are combined:

- coverage: how much of the worker's gap a course closes, weighted by gap size, with full
  credit only when the course reaches the required level;
- content: TF-IDF similarity between the gap skills' descriptions and the course text, with
  character n-grams so Chinese needs no word segmentation;
- collaborative: what workers with similar profiles completed (nearest neighbours).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.neighbors import NearestNeighbors

from lms.skills.models import LEVEL_NAMES

WEIGHTS = {"coverage": 0.6, "content": 0.25, "collaborative": 0.15}


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


def coverage_scores(courses: Sequence[Course], gaps: Sequence[Gap]) -> np.ndarray:
    """Share of the total gap (weighted by size) each course closes; partial credit when a
    course raises a skill but not to the required level."""
    total = sum(g.size for g in gaps)
    scores = np.zeros(len(courses))
    if not total:
        return scores
    for i, course in enumerate(courses):
        gained = 0.0
        for g in gaps:
            reaches = course.skills.get(g.skill, 0)
            if reaches >= g.required:
                gained += g.size
            elif reaches > g.held:
                gained += 0.5 * (reaches - g.held)  # helps, but the gap stays open
        scores[i] = gained / total
    return scores


def content_scores(gap_texts: Sequence[str], course_texts: Sequence[str]) -> np.ndarray:
    """Cosine similarity of the gap skills' text to each course's text (char 1–3-grams)."""
    query = " ".join(gap_texts).strip()
    if not query or not course_texts:
        return np.zeros(len(course_texts))
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 3), lowercase=True, sublinear_tf=True
    )
    matrix = vectorizer.fit_transform([*course_texts, query])
    return cosine_similarity(matrix[-1], matrix[:-1]).ravel()


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
    k = min(k, len(peer_profiles))
    model = NearestNeighbors(n_neighbors=k, metric="cosine").fit(peer_profiles)
    distances, indexes = model.kneighbors(profile.reshape(1, -1))
    similarity = np.clip(1.0 - distances.ravel(), 0.0, None)
    if not similarity.sum():
        return np.zeros(n_courses)
    return similarity @ peer_completions[indexes.ravel()] / similarity.sum()


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
) -> list[Recommendation]:
    """Courses ranked for one worker, each with the gaps it closes.

    Completed and in-progress courses are excluded. A course whose prerequisite is neither
    completed nor in progress is kept only if that prerequisite is recommended too, and then
    right after it; otherwise it is dropped.
    """
    done, busy = set(completed), set(in_progress)
    candidates = [c for c in courses if c.slug not in done | busy]
    if not candidates or not gaps:
        return []
    index = {c.slug: i for i, c in enumerate(courses)}
    cover = coverage_scores(candidates, gaps)
    content = content_scores(
        [skill_texts.get(g.skill, g.skill) for g in gaps],
        [f"{c.title} {c.text}" for c in candidates],
    )
    collab = (
        np.array([collaborative[index[c.slug]] for c in candidates])
        if collaborative is not None
        else np.zeros(len(candidates))
    )
    score = (
        weights["coverage"] * cover
        + weights["content"] * content
        + weights["collaborative"] * collab
    )
    ranked = []
    for i in np.argsort(-score, kind="stable"):
        course = candidates[i]
        if cover[i] <= 0:
            continue  # every recommendation must name a gap it works on
        closes = tuple(g for g in gaps if course.skills.get(g.skill, 0) >= g.required)
        narrows = tuple(g for g in gaps if g.held < course.skills.get(g.skill, 0) < g.required)
        ranked.append(
            Recommendation(
                course.slug,
                round(float(score[i]), 4),
                closes,
                narrows,
                signals={
                    "coverage": round(float(cover[i]), 4),
                    "content": round(float(content[i]), 4),
                    "collaborative": round(float(collab[i]), 4),
                },
            )
        )
    return _respect_prerequisites(ranked, {c.slug: c for c in courses}, done | busy)[:limit]


def _respect_prerequisites(ranked, by_slug, satisfied) -> list[Recommendation]:
    order = [r.slug for r in ranked]
    by_rec = {r.slug: r for r in ranked}
    result: list[Recommendation] = []
    placed: set[str] = set()

    def place(slug: str, stack: tuple[str, ...] = ()) -> bool:
        if slug in placed:
            return True
        if slug in stack:
            return False
        missing = [p for p in by_slug[slug].prerequisites if p not in satisfied]
        for pre in missing:
            if pre not in by_rec or not place(pre, (*stack, slug)):
                return False
        rec = by_rec[slug]
        if missing:
            rec = Recommendation(
                rec.slug, rec.score, rec.closes, rec.narrows, missing[0], rec.signals
            )
        result.append(rec)
        placed.add(slug)
        return True

    for slug in order:
        place(slug)
    return result


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
