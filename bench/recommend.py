"""Benchmark: batch course recommendations (lms/skills/engine.py), no database.

Generates a seeded synthetic world directly as arrays — 100,000 workers, 2,000 courses, 300
skills, 40 roles requiring 8–15 skills each at levels 1–5, held levels near the role's, 1–4
skills per course, ~10% of courses with a prerequisite, 0–6 completed and 0–2 in-progress
courses per worker, course texts of skill names plus Chinese and English filler — and measures:
- building the catalogue index;
- ranking top-10 lists for every worker in one batch (collaborative signal included);
- single-worker latency (prebuilt index and peer pool, one worker per call) over 1,000 workers;
- peak memory of the process (ru_maxrss);
- and, as the baseline in the same run, the recommender this engine replaces (TF-IDF refit and
  nearest-neighbour fit per worker, Python loops) on 200 workers, extrapolated to all of them.
Last line: a JSON object of the figures.

    .venv/bin/python bench/recommend.py [--workers 100000] [--courses 2000] [--skills 300]
                                        [--seed 1] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics.pairwise import cosine_similarity  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from lms.skills.engine import (  # noqa: E402
    WEIGHTS,
    WorkerBatch,
    build_index,
    build_peer_pool,
    rank_workers,
)
from lms.skills.recommend import Course, find_gaps  # noqa: E402

WORDS_ZH = [
    "机器人",
    "数控",
    "传感器",
    "安全",
    "质量",
    "精益",
    "数据",
    "网络",
    "孪生",
    "维护",
    "振动",
    "焊接",
    "装配",
    "视觉",
    "能源",
    "物流",
    "标识",
    "边缘",
    "电气",
    "液压",
    "气动",
    "调试",
    "编程",
    "检测",
    "工艺",
    "设备",
    "仓储",
    "包装",
    "涂装",
    "冲压",
]
WORDS_EN = [
    "robot",
    "plc",
    "cnc",
    "sensor",
    "safety",
    "quality",
    "lean",
    "data",
    "network",
    "twin",
    "maintenance",
    "vibration",
    "welding",
    "assembly",
    "vision",
    "energy",
    "logistics",
    "labelling",
    "edge",
    "electrical",
    "hydraulics",
    "pneumatics",
    "commissioning",
    "programming",
    "inspection",
    "process",
    "equipment",
    "warehouse",
    "packaging",
    "painting",
    "stamping",
]
ROLES = 40


# --- synthetic world ------------------------------------------------------------------------------


def make_world(workers: int, courses: int, skills: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    skill_ids = [f"sk{j:03d}" for j in range(skills)]
    names_zh = ["".join(rng.choice(WORDS_ZH, 2)) + f"{j}" for j in range(skills)]
    names_en = [" ".join(rng.choice(WORDS_EN, 2)) + f" {j}" for j in range(skills)]
    skill_texts = {
        s: f"{names_zh[j]} {names_en[j]} " + " ".join(rng.choice(WORDS_ZH + WORDS_EN, 6))
        for j, s in enumerate(skill_ids)
    }
    role_levels = np.zeros((ROLES, skills), np.int8)
    for r in range(ROLES):
        picked = rng.choice(skills, rng.integers(8, 16), replace=False)
        role_levels[r, picked] = rng.integers(1, 6, picked.size)
    catalogue = []
    for i in range(courses):
        pool = np.flatnonzero(role_levels[rng.integers(ROLES)])
        if rng.random() < 0.2:
            pool = np.arange(skills)
        taught = rng.choice(pool, min(pool.size, rng.integers(1, 5)), replace=False)
        prereq = (f"c{rng.integers(i):05d}",) if i > 10 and rng.random() < 0.1 else ()
        filler = " ".join(rng.choice(WORDS_ZH + WORDS_EN, rng.integers(8, 20)))
        catalogue.append(
            Course(
                f"c{i:05d}",
                "、".join(names_zh[j] for j in taught) + f" 实训{i}",
                " ".join(names_en[j] for j in taught) + " " + filler,
                float(rng.choice([4, 8, 12, 16, 24])),
                {skill_ids[j]: int(rng.integers(1, 6)) for j in taught},
                prereq,
            )
        )
    role = rng.integers(0, ROLES, workers)
    required = role_levels[role].copy()
    target = np.flatnonzero(rng.random(workers) < 0.2)
    required[target] = np.maximum(
        required[target], role_levels[rng.integers(0, ROLES, target.size)]
    )
    held = role_levels[role] - rng.integers(0, 4, (workers, skills), dtype=np.int8)
    np.clip(held, 0, 5, out=held)
    held[role_levels[role] == 0] = 0
    extra = rng.random((workers, skills), dtype=np.float32) < 0.01  # a few skills beyond the role
    held[extra] = rng.integers(1, 4, int(extra.sum()))
    # completions: mostly courses teaching the role's skills, some anything
    teaches = np.zeros((courses, skills), bool)
    for i, c in enumerate(catalogue):
        teaches[i, [int(s[2:]) for s in c.skills]] = True
    role_courses = [
        np.flatnonzero(teaches[:, role_levels[r] > 0].any(axis=1)) for r in range(ROLES)
    ]
    counts = rng.integers(0, 7, workers)
    owner = np.repeat(np.arange(workers), counts)
    picks = rng.integers(0, courses, owner.size)
    from_role = rng.random(owner.size) < 0.7
    for r in range(ROLES):
        sel = np.flatnonzero(from_role & (role[owner] == r))
        if role_courses[r].size:
            picks[sel] = rng.choice(role_courses[r], sel.size)
    completed = sparse.csr_matrix(
        (np.ones(owner.size, np.float32), (owner, picks)), shape=(workers, courses)
    )
    completed.data[:] = 1
    busy_owner = np.repeat(np.arange(workers), rng.integers(0, 3, workers))
    in_progress = sparse.csr_matrix(
        (
            np.ones(busy_owner.size, np.float32),
            (busy_owner, rng.integers(0, courses, busy_owner.size)),
        ),
        shape=(workers, courses),
    )
    in_progress.data[:] = 1
    in_progress = in_progress - in_progress.multiply(completed)
    in_progress.eliminate_zeros()
    return {
        "skill_ids": skill_ids,
        "skill_texts": skill_texts,
        "courses": catalogue,
        "groups": role,
        "required": sparse.csr_matrix(required.astype(np.float32)),
        "held": sparse.csr_matrix(held.astype(np.float32)),
        "completed": completed,
        "in_progress": sparse.csr_matrix(in_progress),
    }


# --- the recommender the engine replaces (kept here verbatim in substance, as the baseline) --------


def legacy_content(gap_texts, course_texts):
    query = " ".join(gap_texts).strip()
    if not query or not course_texts:
        return np.zeros(len(course_texts))
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 3), lowercase=True, sublinear_tf=True
    )
    matrix = vectorizer.fit_transform([*course_texts, query])
    return cosine_similarity(matrix[-1], matrix[:-1]).ravel()


def legacy_collaborative(profile, peer_profiles, peer_completions, k):
    n_courses = peer_completions.shape[1]
    if len(peer_profiles) == 0 or not np.any(profile):
        return np.zeros(n_courses)
    k = min(k, len(peer_profiles))
    model = NearestNeighbors(n_neighbors=k, metric="cosine").fit(peer_profiles)
    distances, indexes = model.kneighbors(profile.reshape(1, -1))
    similarity = np.clip(1.0 - distances.ravel(), 0.0, None)
    if not similarity.sum():
        return np.zeros(n_courses)
    return similarity @ peer_completions[indexes.ravel()] / similarity.sum()


def legacy_recommend(courses, gaps, skill_texts, done, collaborative, limit):
    candidates = [c for c in courses if c.slug not in done]
    if not candidates or not gaps:
        return []
    index = {c.slug: i for i, c in enumerate(courses)}
    total = sum(g.size for g in gaps)
    cover = np.zeros(len(candidates))
    for i, course in enumerate(candidates):
        gained = 0.0
        for g in gaps:
            reaches = course.skills.get(g.skill, 0)
            if reaches >= g.required:
                gained += g.size
            elif reaches > g.held:
                gained += 0.5 * (reaches - g.held)
        cover[i] = gained / total
    content = legacy_content(
        [skill_texts.get(g.skill, g.skill) for g in gaps],
        [f"{c.title} {c.text}" for c in candidates],
    )
    collab = np.array([collaborative[index[c.slug]] for c in candidates])
    score = (
        WEIGHTS["coverage"] * cover
        + WEIGHTS["content"] * content
        + WEIGHTS["collaborative"] * collab
    )
    ranked = []
    for i in np.argsort(-score, kind="stable"):
        course = candidates[i]
        if cover[i] <= 0:
            continue
        closes = tuple(g for g in gaps if course.skills.get(g.skill, 0) >= g.required)
        narrows = tuple(g for g in gaps if g.held < course.skills.get(g.skill, 0) < g.required)
        ranked.append((course.slug, float(score[i]), closes, narrows))
    by_slug = {c.slug: c for c in courses}
    by_rec = {r[0]: r for r in ranked}
    result, placed = [], set()

    def place(slug, stack=()):
        if slug in placed:
            return True
        if slug in stack:
            return False
        missing = [p for p in by_slug[slug].prerequisites if p not in done]
        for pre in missing:
            if pre not in by_rec or not place(pre, (*stack, slug)):
                return False
        result.append((*by_rec[slug], missing[0] if missing else None))
        placed.add(slug)
        return True

    for slug, *_ in ranked:
        place(slug)
    return result[:limit]


def legacy_seconds(world, sample: np.ndarray, peers) -> float:
    """Per-worker wall time of the old path: gaps, NearestNeighbors over the worker's peer pool
    (the same pool the engine uses), TF-IDF refit, Python coverage loop, prerequisites."""
    skill_ids, slugs = world["skill_ids"], [c.slug for c in world["courses"]]
    required, held = world["required"], world["held"]
    done_all = world["completed"] + world["in_progress"]
    start = time.perf_counter()
    for i in sample:
        req_row, held_row = required[i], held[i]
        gaps = find_gaps(
            {skill_ids[j]: int(v) for j, v in zip(req_row.indices, req_row.data, strict=True)},
            {skill_ids[j]: int(v) for j, v in zip(held_row.indices, held_row.data, strict=True)},
        )
        pool = peers.groups[int(world["groups"][i])]
        others = pool.ids != i
        profiles = held[pool.ids[others]].toarray()
        collab = legacy_collaborative(
            held_row.toarray().ravel(), profiles, pool.completions[others].toarray(), 15
        )
        done = {slugs[c] for c in done_all[i].indices}
        legacy_recommend(world["courses"], gaps, world["skill_texts"], done, collab, 10)
    return (time.perf_counter() - start) / len(sample)


# --- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--courses", type=int, default=2000)
    parser.add_argument("--skills", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--single", type=int, help="workers timed one by one (1000)")
    parser.add_argument("--baseline", type=int, help="workers timed on the old path (200)")
    parser.add_argument(
        "--quick", action="store_true", help="5,000 workers, 200 single, 20 baseline"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.workers = min(args.workers, 5000)
    args.single = args.single or (200 if args.quick else 1000)
    args.baseline = args.baseline or (20 if args.quick else 200)
    n = args.workers
    started = time.perf_counter()
    world = make_world(n, args.courses, args.skills, args.seed)
    generate_s = time.perf_counter() - started
    print(
        f"world: {n} workers, {args.courses} courses, {args.skills} skills, {ROLES} roles "
        f"(generated in {generate_s:.1f} s)"
    )

    t = time.perf_counter()
    index = build_index(world["courses"], world["skill_texts"], world["skill_ids"])
    index_s = time.perf_counter() - t
    print(f"index build:         {index_s:8.2f} s")

    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    batch = WorkerBatch(
        world["required"],
        world["held"],
        world["completed"],
        world["in_progress"],
        groups=world["groups"],
    )
    t = time.perf_counter()
    result = rank_workers(index, batch, k=10)
    batch_s = time.perf_counter() - t
    lengths = (result.courses >= 0).sum(axis=1)
    print(
        f"batch top-10:        {batch_s:8.2f} s for {n} workers "
        f"({n / batch_s:,.0f} workers/s; mean list {lengths.mean():.1f}, "
        f"{(result.after >= 0).any(axis=1).mean():.1%} lists with a prerequisite first)"
    )

    t = time.perf_counter()
    peers = build_peer_pool(world["held"], world["completed"], world["groups"], np.arange(n))
    pool_s = time.perf_counter() - t
    rng = np.random.default_rng(args.seed + 1)
    sample = rng.choice(n, min(args.single, n), replace=False)
    latencies, agree = [], 0
    for i in sample:
        t = time.perf_counter()
        one = rank_workers(
            index,
            WorkerBatch(
                world["required"][i : i + 1],
                world["held"][i : i + 1],
                world["completed"][i : i + 1],
                world["in_progress"][i : i + 1],
                groups=world["groups"][i : i + 1],
                ids=np.array([i]),
            ),
            k=10,
            peers=peers,
        )
        latencies.append((time.perf_counter() - t) * 1000)
        agree += bool(np.array_equal(one.courses[0], result.courses[i]))
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=100)[94]
    print(
        f"single worker:       p50 {p50:.2f} ms, p95 {p95:.2f} ms over {len(sample)} workers "
        f"(peer pool built once in {pool_s:.2f} s; {agree}/{len(sample)} lists equal the batch's)"
    )

    base_sample = rng.choice(n, min(args.baseline, n), replace=False)
    per_worker = legacy_seconds(world, base_sample, peers)
    baseline_s = per_worker * n
    print(
        f"old per-worker path: {per_worker * 1000:8.1f} ms/worker on {len(base_sample)} workers "
        f"→ {baseline_s:,.0f} s for {n} (extrapolated); speed-up {baseline_s / batch_s:,.0f}×"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory:         {peak_mb:8.0f} MB (process, ru_maxrss; {before_mb:.0f} MB before "
        "the batch, with the generated world and the index)"
    )
    figures = {
        "workers": n,
        "courses": args.courses,
        "skills": args.skills,
        "seed": args.seed,
        "index_seconds": round(index_s, 3),
        "batch_seconds": round(batch_s, 3),
        "workers_per_second": round(n / batch_s),
        "single_p50_ms": round(p50, 3),
        "single_p95_ms": round(p95, 3),
        "single_equal_to_batch": round(agree / len(sample), 4),
        "peer_pool_seconds": round(pool_s, 3),
        "peak_mb": round(peak_mb, 1),
        "peak_mb_before_batch": round(before_mb, 1),
        "baseline_ms_per_worker": round(per_worker * 1000, 2),
        "baseline_batch_seconds_extrapolated": round(baseline_s, 1),
        "speedup": round(baseline_s / batch_s, 1),
        "targets_met": bool(batch_s < 20 and p95 < 20 and peak_mb < 2048),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
