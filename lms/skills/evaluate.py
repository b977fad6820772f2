"""Offline evaluation of the recommender on a dataset folder (no database).

Dataset (see README): skills.yaml (taxonomy import format, with roles), courses.yaml, workers.csv
(worker_id, role, target_role, skills as `slug:level;slug:level`), history.csv (worker_id,
course_slug, completed_at). Completions after the 80th percentile of completed_at are held out;
the earlier ones raise each worker to the levels their courses teach. All workers are ranked in
one batch by lms/skills/engine.py (the engine behind `recommend()`).
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
from scipy import sparse

from lms.skills.engine import WorkerBatch, build_index, rank_workers
from lms.skills.recommend import Course, find_gaps, recommendations


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
    role_of = {
        r: i
        for i, r in enumerate(sorted({*data.roles, *(v["role"] for v in data.workers.values())}))
    }
    skill_ids = sorted(
        {s for c in data.courses for s in c.skills}
        | set(data.skill_texts)
        | {s for levels in data.roles.values() for s in levels}
    )
    index = build_index(data.courses, data.skill_texts, skill_ids)
    workers = sorted(data.workers)
    required = {}
    for w in workers:
        info = data.workers[w]
        levels = dict(data.roles.get(info["role"], {}))
        for skill, level in data.roles.get(info["target_role"] or "", {}).items():
            levels[skill] = max(levels.get(skill, 0), level)
        required[w] = levels

    def matrix(rows: list[dict], columns: dict[str, int]) -> sparse.csr_matrix:
        ii, jj, vv = [], [], []
        for i, row in enumerate(rows):
            for key, value in row.items():
                if key in columns and value:
                    ii.append(i)
                    jj.append(columns[key])
                    vv.append(value)
        return sparse.csr_matrix(
            (np.array(vv, np.float32), (ii, jj)), shape=(len(rows), len(columns))
        )

    batch = WorkerBatch(
        required=matrix([required[w] for w in workers], index.skill_index),
        held=matrix([held[w] for w in workers], index.skill_index),
        completed=matrix([dict.fromkeys(before[w], 1) for w in workers], index.slug_index),
        in_progress=sparse.csr_matrix((len(workers), len(slugs)), dtype=np.float32),
        groups=np.array([role_of[data.workers[w]["role"]] for w in workers]),
    )
    # One batch through the engine that serves single workers too; collaborative peers are the
    # other workers of the same current role who completed a course before the cut.
    ranked = rank_workers(index, batch, k=k, neighbours=15)
    popularity = Counter(c for w in workers for c in before[w])
    rng = random.Random(seed)
    lists = {"recommender": {}, "popular": {}, "random": {}}
    for i, w in enumerate(workers):
        gaps = find_gaps(required[w], held[w])
        recs = recommendations(index, ranked, i, gaps)
        lists["recommender"][w] = (gaps, [(r.slug, r) for r in recs])
        remaining = [c for c in slugs if c not in before[w]]
        ranked_popular = sorted(remaining, key=lambda c: (-popularity[c], c))[:k]
        lists["popular"][w] = (gaps, [(c, None) for c in ranked_popular])
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


def dump_lists(
    path: Path, lists: dict[str, list], skill_names: dict[str, str], courses: dict[str, Course]
) -> None:
    from lms.skills.recommend import narrow_text, reason_text

    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["worker_id", "rank", "course_slug", "reason"])
        for worker, (_gaps, ranked) in sorted(lists.items()):
            for rank, (slug, rec) in enumerate(ranked, start=1):
                reason = ""
                if rec and rec.closes:
                    gap = rec.closes[0]
                    reason = reason_text(gap, skill_names.get(gap.skill, gap.skill), "zh_CN")
                elif rec and rec.narrows:
                    gap = rec.narrows[0]
                    reaches = courses[slug].skills.get(gap.skill, 0)
                    name = skill_names.get(gap.skill, gap.skill)
                    reason = narrow_text(gap, name, reaches, "zh_CN")
                writer.writerow([worker, rank, slug, reason])
