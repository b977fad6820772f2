"""Offline evaluation of the recommender on a dataset folder (no database).

Dataset (see README): skills.yaml (taxonomy import format, with roles), courses.yaml, workers.csv
(worker_id, role, target_role, skills as `slug:level;slug:level`), history.csv (worker_id,
course_slug, completed_at). Completions after the 80th percentile of completed_at are held out;
the earlier ones raise each worker to the levels their courses teach.
"""

from __future__ import annotations

import csv
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from lms.skills.recommend import Course, Gap, collaborative_scores, find_gaps, recommend


@dataclass
class Dataset:
    skill_texts: dict[str, str]
    roles: dict[str, dict[str, int]]
    courses: list[Course]
    workers: dict[str, dict]  # id → {role, target_role, skills}
    history: list[tuple[str, str, str]]  # (worker, course, completed_at)


def load_dataset(folder: Path) -> Dataset:
    taxonomy = yaml.safe_load((folder / "skills.yaml").read_text(encoding="utf-8"))
    skill_texts = {
        s["id"]: " ".join(
            filter(
                None,
                (
                    s.get("name_zh"),
                    s.get("name_en"),
                    s.get("description_zh"),
                    s.get("description_en"),
                ),
            )
        )
        for s in taxonomy["skills"]
    }
    roles = {
        r["id"]: {q["skill"]: q["level"] for q in r["required_skills"]}
        for r in taxonomy.get("roles") or []
    }
    courses = [
        Course(
            c["slug"],
            c["title"],
            c.get("summary", ""),
            float(c.get("hours", 1)),
            {s["skill"]: s["level"] for s in c.get("skills", [])},
            tuple(c.get("prerequisites") or ()),
        )
        for c in yaml.safe_load((folder / "courses.yaml").read_text(encoding="utf-8"))
    ]
    workers = {}
    with open(folder / "workers.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            skills = {}
            for part in filter(None, (row.get("skills") or "").split(";")):
                slug, level = part.split(":")
                skills[slug] = int(level)
            workers[row["worker_id"]] = {
                "role": row["role"],
                "target_role": row.get("target_role") or None,
                "skills": skills,
            }
    with open(folder / "history.csv", encoding="utf-8") as f:
        history = [(r["worker_id"], r["course_slug"], r["completed_at"]) for r in csv.DictReader(f)]
    return Dataset(skill_texts, roles, courses, workers, history)


def _cut(history) -> str:
    stamps = sorted(h[2] for h in history)
    return stamps[min(len(stamps) - 1, math.ceil(0.8 * len(stamps)) - 1)] if stamps else ""


def evaluate(data: Dataset, *, k: int = 5, seed: int = 7) -> tuple[dict, dict[str, list]]:
    """Metrics for our recommender and two baselines, and our top-k lists (for --dump)."""
    cut = _cut(data.history)
    before, after = defaultdict(list), defaultdict(set)
    for worker, course, stamp in sorted(data.history, key=lambda h: h[2]):
        (before[worker].append(course) if stamp <= cut else after[worker].add(course))
    by_slug = {c.slug: c for c in data.courses}
    slugs = [c.slug for c in data.courses]
    held = {}
    for worker, info in data.workers.items():
        levels = dict(info["skills"])
        for course in before[worker]:
            for skill, level in by_slug[course].skills.items() if course in by_slug else ():
                levels[skill] = max(levels.get(skill, 0), level)
        held[worker] = levels
    skill_ids = sorted({s for c in data.courses for s in c.skills} | set(data.skill_texts))
    role_ids = sorted(data.roles)
    workers = sorted(data.workers)
    profiles = np.array(
        [
            [held[w].get(s, 0) for s in skill_ids]
            + [3.0 * (data.workers[w]["role"] == r) for r in role_ids]
            for w in workers
        ],
        dtype=float,
    )
    completions = np.array([[1.0 * (c in before[w]) for c in slugs] for w in workers])
    popularity = Counter(c for w in workers for c in before[w])
    rng = random.Random(seed)
    lists = {"recommender": {}, "popular": {}, "random": {}}
    for i, w in enumerate(workers):
        info = data.workers[w]
        required = dict(data.roles.get(info["role"], {}))
        for skill, level in data.roles.get(info["target_role"] or "", {}).items():
            required[skill] = max(required.get(skill, 0), level)
        gaps = find_gaps(required, held[w])
        peers = np.delete(profiles, i, axis=0)
        peer_done = np.delete(completions, i, axis=0)
        collab = collaborative_scores(profiles[i], peers, peer_done, k=15)
        recs = recommend(
            data.courses,
            gaps,
            skill_texts=data.skill_texts,
            completed=before[w],
            collaborative=collab,
            limit=k,
        )
        lists["recommender"][w] = (gaps, [(r.slug, r) for r in recs])
        remaining = [c for c in slugs if c not in before[w]]
        ranked = sorted(remaining, key=lambda c: (-popularity[c], c))[:k]
        lists["popular"][w] = (gaps, [(c, None) for c in ranked])
        shuffled = remaining[:]
        rng.shuffle(shuffled)
        lists["random"][w] = (gaps, [(c, None) for c in shuffled[:k]])
    metrics = {
        name: _score(per_worker, after, before, by_slug, k) for name, per_worker in lists.items()
    }
    return metrics, lists["recommender"]


def _score(per_worker, after, before, by_slug, k) -> dict:
    coverage, hits, ndcgs, violations, evaluated = [], 0, [], 0, 0
    for worker, (gaps, ranked) in per_worker.items():
        slugs = [s for s, _ in ranked]
        total = sum(g.size for g in gaps)
        if total:
            closed = sum(
                g.size
                for g in gaps
                if any(by_slug[s].skills.get(g.skill, 0) >= g.required for s in slugs)
            )
            coverage.append(closed / total)
        seen = set(before[worker])
        for s in slugs:
            if any(p not in seen for p in by_slug[s].prerequisites):
                violations += 1
            seen.add(s)
        if after[worker]:
            evaluated += 1
            hits += any(s in after[worker] for s in slugs)
            dcg = sum(1 / math.log2(i + 2) for i, s in enumerate(slugs) if s in after[worker])
            ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(after[worker]))))
            ndcgs.append(dcg / ideal if ideal else 0.0)
    return {
        f"gap_coverage@{k}": round(float(np.mean(coverage)) if coverage else 0.0, 4),
        f"hit_rate@{k}": round(hits / evaluated, 4) if evaluated else 0.0,
        f"ndcg@{k}": round(float(np.mean(ndcgs)) if ndcgs else 0.0, 4),
        "prerequisite_violations": violations,
        "workers_evaluated": evaluated,
    }


def dump_lists(path: Path, lists: dict[str, list], skill_names: dict[str, str]) -> None:
    from lms.skills.recommend import reason_text

    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["worker_id", "rank", "course_slug", "reason"])
        for worker, (_gaps, ranked) in sorted(lists.items()):
            for rank, (slug, rec) in enumerate(ranked, start=1):
                gap: Gap | None = (rec.closes or rec.narrows or (None,))[0] if rec else None
                reason = (
                    reason_text(gap, skill_names.get(gap.skill, gap.skill), "zh_CN") if gap else ""
                )
                writer.writerow([worker, rank, slug, reason])
