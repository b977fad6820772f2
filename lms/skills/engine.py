"""Batch recommendation engine: top-k courses for many workers at once, with array maths only.

Pure numpy/scipy/sklearn — no database, no Flask. `recommend()` (one worker) and the offline
evaluation both run through `rank_workers`, so they agree.

    index = build_index(courses, skill_texts, skill_ids)      # once per catalogue
    peers = build_peer_pool(held, completed, groups, ids)     # optional: a pool to reuse
    result = rank_workers(index, WorkerBatch(...), k=10)      # any number of workers

The three signals, for a worker with gaps g_s = required_s − held_s > 0:

- coverage: Σ_s over gap skills of g_s if the course reaches the required level, else
  0.5·(course level − held) if it raises the skill without closing it; divided by Σ g_s. With
  A_l = [course level ≥ l] (a 0/1 courses × skills matrix per level l = 1…5) this is one sparse
  product: Σ_l M_l·A_lᵀ, where M_l[s] = 0.5 for held < l < required and 0.5·(g_s + 1) at
  l = required (the telescoping sum gives exactly the credit above).
- content: cosine between the gap query q = Σ_s t̂_s (unit TF-IDF vectors of the gap skills'
  texts) and each unit course vector x̂_c. With Sim = T̂·X̂ᵀ (skills × courses) and G = T̂·T̂ᵀ
  precomputed once, cos = (w·Sim) / √(wᵀGw) for the gap indicator w: no per-worker refit.
- collaborative: similarity-weighted share of the k most similar peers (cosine over held levels,
  same group, never the worker itself) that completed each course.

Candidates work on at least one gap and are neither completed nor in progress. A course whose
prerequisite is neither completed nor in progress is kept only if that prerequisite can be
recommended too (recursively), and then right after it; otherwise it is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:  # pragma: no cover
    from lms.skills.recommend import Course

WEIGHTS = {"coverage": 0.6, "content": 0.25, "collaborative": 0.15}
MAX_LEVEL = 5
NEIGHBOURS = 15
PEERS_PER_GROUP = 2000
# Text similarities are summed as integers on a 2^-18 grid, so that sums are exact in float32
# (up to 64 gap skills) and come out bit for bit the same whatever the order of summation: one
# worker alone and the same worker inside a batch (BLAS or sparse kernels) get the same scores.
# Held levels are small integers, so peer similarities are exact the same way.
_FIXED = float(2**18)
_CHUNK_CELLS = 1 << 20  # worker × course cells per dense block: 4 MB as float32, reused by
# the allocator from chunk to chunk (bigger blocks are mmap'ed afresh and page-fault each time)
_blas = None


def _one_blas_thread():
    """Our products are narrow (few columns, few hundred rows): a threaded BLAS spends more on
    waking its threads than on the maths, so the engine runs it single-threaded."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


@dataclass(eq=False)
class CourseIndex:
    """Everything about a catalogue that ranking needs, computed once."""

    courses: tuple  # the Course objects, in index order
    slugs: list[str]
    slug_index: dict[str, int]
    skill_ids: list[str]
    skill_index: dict[str, int]
    hours: np.ndarray  # float32, per course
    levels: sparse.csr_matrix  # courses × skills, level each course reaches (int8, 0–5)
    prerequisites: list[tuple[int, ...]]  # per course: in-catalogue prerequisites, declared order
    external_prerequisites: np.ndarray  # bool per course: has a prerequisite outside the catalogue
    content: np.ndarray  # skills × courses float32: cosine(skill text, course text)
    skill_gram: np.ndarray  # skills × skills float32: cosine(skill text, skill text)
    content_fixed: np.ndarray = field(repr=False)  # content on a 2^-18 grid, as integers
    gram_fixed: np.ndarray = field(repr=False)  # skill_gram likewise (float64)
    ladder: sparse.csr_matrix = field(repr=False)  # (5·skills) × courses: [level ≥ l]
    course_skills: np.ndarray = field(repr=False)  # courses × T skill indexes, -1 padded
    course_skill_levels: np.ndarray = field(repr=False)  # courses × T levels, 0 padded
    pre_courses: np.ndarray = field(repr=False)  # courses with a prerequisite
    pre_position: np.ndarray = field(repr=False)  # course → position in pre_courses, or -1
    edge_prereq: np.ndarray = field(repr=False)  # per prerequisite edge: the prerequisite
    edge_incidence: sparse.csr_matrix = field(repr=False)  # pre_courses × edges


@dataclass
class WorkerBatch:
    required: sparse.csr_matrix  # n × S, required level 0–5 (max over current and target role)
    held: sparse.csr_matrix  # n × S, verified held level 0–5
    completed: sparse.csr_matrix  # n × C, 1 where completed
    in_progress: sparse.csr_matrix  # n × C, 1 where enrolled / in progress
    groups: np.ndarray | None = None  # n ints: peers are searched within the same group
    ids: np.ndarray | None = None  # n ints (e.g. user ids): excludes the worker from a PeerPool
    external_satisfied: sparse.csr_matrix | None = None  # n × C, 1 where the course's
    # prerequisites outside the catalogue are completed or in progress (else such courses drop)


@dataclass
class RankResult:
    courses: np.ndarray  # n × k int32 course indexes, ranked; -1 pads short lists
    scores: np.ndarray  # n × k float32
    after: np.ndarray  # n × k int32: prerequisite that must come first (earlier in the list)
    reason_skill: np.ndarray  # n × k int32: biggest gap closed (else narrowed), -1 if none
    closes_count: np.ndarray  # n × k int16: gap skills closed to the required level
    signals: dict[str, np.ndarray] = field(default_factory=dict)  # coverage/content/collab n × k


@dataclass(eq=False)
class GroupPeers:
    ids: np.ndarray  # p ints, sorted
    profiles_t: np.ndarray  # S × p float32: held levels, one peer per column
    inverse_norms: np.ndarray  # p float32: 1 / |held levels| (0 for an empty profile)
    completions: sparse.csr_matrix  # p × C float32 0/1


@dataclass(eq=False)
class PeerPool:
    """Per group, a capped sample of peers who completed at least one course."""

    groups: dict[int, GroupPeers]


# --- the catalogue index -------------------------------------------------------------------------


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 3), lowercase=True, sublinear_tf=True, dtype=np.float32
    )


def text_matrices(query_texts: Sequence[str], doc_texts: Sequence[str]):
    """(queries × docs cosine, queries × queries cosine) of char 1–3-gram TF-IDF vectors, the
    vectorizer fitted once on both lists (character n-grams: Chinese needs no segmentation)."""
    nq, nd = len(query_texts), len(doc_texts)
    try:
        matrix = _vectorizer().fit_transform([*doc_texts, *query_texts])
    except ValueError:  # empty vocabulary: nothing to compare
        return np.zeros((nq, nd), np.float32), np.zeros((nq, nq), np.float32)
    docs, queries = matrix[:nd], matrix[nd:]
    sim = np.asarray((queries @ docs.T).toarray(), dtype=np.float32)
    gram = np.asarray((queries @ queries.T).toarray(), dtype=np.float32)
    return sim, gram


def level_ladder(levels: sparse.csr_matrix) -> sparse.csr_matrix:
    """(MAX_LEVEL·S) × C 0/1 matrix: row (l-1)·S + s, column c is [level(c, s) ≥ l]."""
    n_courses, n_skills = levels.shape
    coo = levels.tocoo()
    lv = coo.data.astype(np.int64)
    rep = np.repeat(np.arange(lv.size), lv)
    step = np.arange(rep.size) - np.repeat(np.cumsum(lv) - lv, lv)  # 0 … level-1
    rows = step * n_skills + coo.col[rep]
    return sparse.csr_matrix(
        (np.ones(rep.size, np.float32), (rows, coo.row[rep])),
        shape=(MAX_LEVEL * n_skills, n_courses),
    )


def build_index(
    courses: Sequence[Course], skill_texts: Mapping[str, str], skill_ids: Sequence[str]
) -> CourseIndex:
    """Index a catalogue. `skill_ids` fixes the skill columns (skills outside it are ignored);
    a skill without text is represented by its id. Levels are clipped to 0–5."""
    courses = tuple(courses)
    slugs = [c.slug for c in courses]
    slug_index = {s: i for i, s in enumerate(slugs)}
    skill_ids = list(skill_ids)
    skill_index = {s: j for j, s in enumerate(skill_ids)}
    if len(slug_index) != len(slugs) or len(skill_index) != len(skill_ids):
        raise ValueError("course slugs and skill ids must be unique")
    n_courses, n_skills = len(courses), len(skill_ids)
    rows, cols, vals = [], [], []
    prerequisites: list[tuple[int, ...]] = []
    external = np.zeros(n_courses, dtype=bool)
    for i, course in enumerate(courses):
        for skill, level in course.skills.items():
            j = skill_index.get(skill)
            if j is not None and level > 0:
                rows.append(i)
                cols.append(j)
                vals.append(min(int(level), MAX_LEVEL))
        known = []
        for pre in course.prerequisites:
            if pre in slug_index:
                known.append(slug_index[pre])
            else:
                external[i] = True
        prerequisites.append(tuple(known))
    levels = sparse.csr_matrix(
        (np.array(vals, np.int8), (np.array(rows, np.int64), np.array(cols, np.int64))),
        shape=(n_courses, n_skills),
    )
    levels.sort_indices()
    per_course = np.diff(levels.indptr)
    width = max(1, int(per_course.max()) if n_courses else 1)
    course_skills = np.full((n_courses, width), -1, np.int32)
    course_skill_levels = np.zeros((n_courses, width), np.int8)
    slot = np.arange(levels.nnz) - np.repeat(levels.indptr[:-1], per_course)
    owner = np.repeat(np.arange(n_courses), per_course)
    course_skills[owner, slot] = levels.indices
    course_skill_levels[owner, slot] = levels.data

    pre_courses = np.array(
        [i for i in range(n_courses) if prerequisites[i] or external[i]], dtype=np.int64
    )
    pre_position = np.full(n_courses, -1, np.int64)
    pre_position[pre_courses] = np.arange(pre_courses.size)
    edges = [(pre_position[i], p) for i in pre_courses for p in prerequisites[i]]
    edge_course = np.array([e[0] for e in edges], np.int64)
    edge_prereq = np.array([e[1] for e in edges], np.int64)
    incidence = sparse.csr_matrix(
        (np.ones(len(edges), np.float32), (edge_course, np.arange(len(edges)))),
        shape=(pre_courses.size, len(edges)),
    )
    content, gram = text_matrices(
        [skill_texts.get(s, s) for s in skill_ids], [f"{c.title} {c.text}" for c in courses]
    )
    return CourseIndex(
        courses=courses,
        slugs=slugs,
        slug_index=slug_index,
        skill_ids=skill_ids,
        skill_index=skill_index,
        hours=np.array([c.hours for c in courses], np.float32),
        levels=levels,
        prerequisites=prerequisites,
        external_prerequisites=external,
        content=content,
        skill_gram=gram,
        content_fixed=np.rint(content * _FIXED).astype(np.float32),
        gram_fixed=np.rint(gram.astype(np.float64) * _FIXED),
        ladder=level_ladder(levels),
        course_skills=course_skills,
        course_skill_levels=course_skill_levels,
        pre_courses=pre_courses,
        pre_position=pre_position,
        edge_prereq=edge_prereq,
        edge_incidence=incidence,
    )


# --- products and signals ------------------------------------------------------------------------


def rows_times_dense(left: sparse.csr_matrix, right: np.ndarray) -> np.ndarray:
    """left (m × S, sparse) @ right (S × X, dense) as a dense float32 m × X block.

    Columns that many rows use go through BLAS on a narrow dense slice; the rare rest (and very
    small batches, where a threaded BLAS call costs more than the maths) through scipy's sparse
    kernel. Exact either way; much cheaper than a dense product over all S columns."""
    m, n_cols = left.shape
    if m <= 32 or not left.nnz:
        return np.asarray(left @ right, dtype=np.float32)
    counts = np.bincount(left.indices, minlength=n_cols)
    frequent = counts >= max(2, m // 40)
    if not frequent.any():
        return np.asarray(left @ right, dtype=np.float32)
    columns = np.flatnonzero(frequent)
    out = left[:, columns].toarray() @ right[columns]
    rare = ~frequent[left.indices]
    if rare.any():
        owner = np.repeat(np.arange(m), np.diff(left.indptr))[rare]
        rest = sparse.csr_matrix(
            (left.data[rare], (owner, left.indices[rare])), shape=left.shape, dtype=np.float32
        )
        out += rest @ right
    return out


def coverage_matrix(ladder: sparse.csr_matrix, required: np.ndarray, held: np.ndarray):
    """m × C sparse share of each worker's total gap that each course closes (module docstring).
    Stored entries are exactly the courses that work on a gap (all > 0)."""
    m, n_skills = required.shape
    n_courses = ladder.shape[1]
    gap = np.maximum(required - held, 0)
    total = gap.sum(axis=1)
    ii, jj = np.nonzero(gap > 0)
    if not ii.size or not n_courses:
        return sparse.csr_matrix((m, n_courses), dtype=np.float32)
    r, h = required[ii, jj], held[ii, jj]
    level = np.arange(1, MAX_LEVEL + 1, dtype=np.float32)[:, None]
    value = np.where(
        level == r, 0.5 * (r - h + 1), np.where((level > h) & (level < r), 0.5, 0.0)
    ).astype(np.float32)
    lv, e = np.nonzero(value)
    weights = sparse.csr_matrix(
        (value[lv, e], (ii[e], lv * n_skills + jj[e])), shape=(m, MAX_LEVEL * n_skills)
    )
    cover = sparse.csr_matrix(weights @ ladder, dtype=np.float32)  # sums of halves: exact
    cover.data /= np.repeat(total, np.diff(cover.indptr))
    return cover


def _text_norms(query: sparse.csr_matrix, gram_fixed: np.ndarray) -> np.ndarray:
    """Per row, _FIXED·|Σ_s t̂_s| for the skills in the 0/1 `query` (1 for an empty query)."""
    query = sparse.csr_matrix(query, dtype=np.float64)
    squares = np.asarray((query @ gram_fixed * query.toarray()).sum(axis=1)).ravel()
    return np.where(squares > 0, np.sqrt(np.maximum(squares, 0) * _FIXED), 1).astype(np.float32)


def _float_key(values: np.ndarray, bits: int) -> np.ndarray:
    """int64 keys ordered like the float32 values (≥ 0), shifted left to leave `bits` free."""
    key = np.ascontiguousarray(values, dtype=np.float32).view(np.int32).astype(np.int64)
    key <<= bits
    return key


def _inverse_norms(matrix: sparse.csr_matrix) -> np.ndarray:
    squares = np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64).ravel()
    return np.where(squares > 0, 1 / np.sqrt(np.where(squares > 0, squares, 1)), 0).astype(
        np.float32
    )


def neighbour_scores(
    profiles, pool: GroupPeers, k: int, worker_ids: np.ndarray | None = None
) -> sparse.csr_matrix:
    """m × C: for each profile row, Σ_j sim_j·completed_j / Σ_j sim_j over its k most similar
    peers in `pool` (cosine, clipped at 0), skipping the peer with the worker's own id."""
    profiles = sparse.csr_matrix(profiles, dtype=np.float32)
    m, p = profiles.shape[0], pool.profiles_t.shape[1]
    n_courses = pool.completions.shape[1]
    if not m or not p or k <= 0:
        return sparse.csr_matrix((m, n_courses), dtype=np.float32)
    sims = rows_times_dense(profiles, pool.profiles_t)  # exact: integer levels
    sims *= _inverse_norms(profiles)[:, None]
    sims *= pool.inverse_norms[None, :]
    # nearest first, equal similarities in pool order: distinct int64 keys (the bits of a
    # float32 ≥ 0 sort like its value), which also keeps the selection fast on many ties
    np.maximum(sims, 0, out=sims)
    bits = max(1, (p - 1).bit_length())
    key = _float_key(sims, bits)
    key |= np.arange(p - 1, -1, -1, dtype=np.int64)
    if worker_ids is not None:
        pos = np.minimum(np.searchsorted(pool.ids, worker_ids), p - 1)
        own = np.flatnonzero(pool.ids[pos] == worker_ids)
        key[own, pos[own]] = -1
        sims[own, pos[own]] = 0
    kk = min(k, p)
    if kk < p:
        top = np.argpartition(key, p - kk, axis=1)[:, p - kk :]
    else:
        top = np.broadcast_to(np.arange(p), (m, p))
    top = np.sort(top, axis=1)  # one summation order for the same neighbours
    weight = np.maximum(np.take_along_axis(sims, top, axis=1), 0)
    total = weight.sum(axis=1, keepdims=True)
    weight /= np.where(total > 0, total, 1)
    share = sparse.csr_matrix(
        (weight.ravel(), np.ascontiguousarray(top).ravel(), np.arange(0, m * kk + 1, kk)),
        shape=(m, p),
    )
    return sparse.csr_matrix(share @ pool.completions, dtype=np.float32)


def peer_group(ids, profiles, completions) -> GroupPeers:
    """A peer pool for one group: ids (unique ints), held-level profiles, completions (0/1)."""
    ids = np.asarray(ids, np.int64)
    order = np.argsort(ids, kind="stable")
    levels = sparse.csr_matrix(profiles, dtype=np.float32)[order]
    return GroupPeers(
        ids=ids[order],
        profiles_t=np.ascontiguousarray(levels.T.toarray()),
        inverse_norms=_inverse_norms(levels),
        completions=sparse.csr_matrix(completions, dtype=np.float32)[order],
    )


def build_peer_pool(
    held,
    completed,
    groups: np.ndarray | None = None,
    ids: np.ndarray | None = None,
    *,
    max_per_group: int = PEERS_PER_GROUP,
    seed: int = 0,
) -> PeerPool:
    """Peers per group: workers who completed at least one course, a seeded sample of at most
    `max_per_group` each. `ids` (default: row numbers) let a worker be skipped as its own peer."""
    held = sparse.csr_matrix(held, dtype=np.float32)
    completed = sparse.csr_matrix(completed, dtype=np.float32, copy=True)
    completed.eliminate_zeros()
    n = held.shape[0]
    groups = np.zeros(n, np.int64) if groups is None else np.asarray(groups, np.int64)
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
    rng = np.random.default_rng(seed)
    active = np.flatnonzero(np.diff(completed.indptr) > 0)
    by_group = np.argsort(groups[active], kind="stable")
    members_of = np.split(active[by_group], np.flatnonzero(np.diff(groups[active][by_group])) + 1)
    pool = {}
    for members in members_of:
        if not members.size:
            continue
        if members.size > max_per_group:
            members = np.sort(rng.choice(members, max_per_group, replace=False))
        pool[int(groups[members[0]])] = peer_group(ids[members], held[members], completed[members])
    return PeerPool(pool)


def _eligible(index: CourseIndex, candidate, satisfied, external_ok):
    """(eligible m × P, needs_pull m × P) over index.pre_courses, from m × C bool candidate and
    satisfied blocks: a candidate is eligible when each prerequisite is satisfied or itself
    eligible (least fixed point, so cycles drop); needs_pull marks eligible courses with a
    prerequisite still to take, which is then pulled up in front of them."""
    pre = index.pre_courses
    base = candidate[:, pre]
    blocked = index.external_prerequisites[pre]
    if blocked.any():
        base &= ~blocked if external_ok is None else (~blocked | external_ok[:, pre])
    incidence = index.edge_incidence
    sat_edge = satisfied[:, index.edge_prereq]
    cand_edge = candidate[:, index.edge_prereq]
    position = index.pre_position[index.edge_prereq]
    inside = np.flatnonzero(position >= 0)  # prerequisites that have prerequisites themselves
    missing = (incidence @ (~sat_edge).T.astype(np.float32)).T > 0
    current = base & ~missing
    while True:
        eligible_edge = cand_edge.copy()
        eligible_edge[:, inside] = current[:, position[inside]]
        bad = (incidence @ (~(sat_edge | eligible_edge)).T.astype(np.float32)).T > 0
        new = base & ~bad
        if np.array_equal(new, current):
            return current, current & missing
        current = new


# --- ranking -------------------------------------------------------------------------------------


def _as_csr(matrix, shape, name):
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    if matrix.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {matrix.shape}")
    matrix.eliminate_zeros()  # a stored 0 is no completion
    return matrix


def rank_workers(
    index: CourseIndex,
    workers: WorkerBatch,
    k: int = 10,
    weights: Mapping[str, float] = WEIGHTS,
    *,
    peers: PeerPool | None = None,
    neighbours: int = NEIGHBOURS,
    collaborative=None,
    chunk_rows: int | None = None,
) -> RankResult:
    """Top-k courses per worker, in chunks of rows (memory stays bounded for any batch size).

    Collaborative signal: `collaborative` (n × C, dense or sparse) if given; else from `peers`
    (a PeerPool, workers matched to themselves by `workers.ids`); else from a pool built from
    this batch itself (per group, workers who completed a course, capped and seeded).
    """
    n_courses, n_skills = len(index.slugs), len(index.skill_ids)
    n = workers.required.shape[0]
    required = _as_csr(workers.required, (n, n_skills), "required")
    held = _as_csr(workers.held, (n, n_skills), "held")
    done = _as_csr(workers.completed, (n, n_courses), "completed")
    satisfied = done + _as_csr(workers.in_progress, (n, n_courses), "in_progress")
    external_ok = (
        None
        if workers.external_satisfied is None
        else _as_csr(workers.external_satisfied, (n, n_courses), "external_satisfied")
    )
    k = max(int(k), 0)
    result = RankResult(
        courses=np.full((n, k), -1, np.int32),
        scores=np.zeros((n, k), np.float32),
        after=np.full((n, k), -1, np.int32),
        reason_skill=np.full((n, k), -1, np.int32),
        closes_count=np.zeros((n, k), np.int16),
        signals={
            name: np.zeros((n, k), np.float32) for name in ("coverage", "content", "collaborative")
        },
    )
    if not n or not k or not n_courses:
        return result
    signal_weights = tuple(
        float(weights.get(name, 0.0)) for name in ("coverage", "content", "collaborative")
    )
    w_collab = signal_weights[2]
    groups = (
        np.zeros(n, np.int64) if workers.groups is None else np.asarray(workers.groups, np.int64)
    )
    ids = None if workers.ids is None else np.asarray(workers.ids, np.int64)
    if collaborative is not None:
        if sparse.issparse(collaborative):
            collaborative = sparse.csr_matrix(collaborative, dtype=np.float32)
        else:
            collaborative = np.asarray(collaborative, np.float32).reshape(n, n_courses)
    elif w_collab and peers is None:
        ids = np.arange(n, dtype=np.int64) if ids is None else ids
        peers = build_peer_pool(held, done, groups, ids)
    use_peers = collaborative is None and bool(w_collab)
    with _one_blas_thread():
        # rows of a group together: one peer pool and few common skill columns per run of rows
        order = np.argsort(groups, kind="stable") if n > 1 else np.arange(n)
        rows_per_chunk = chunk_rows or max(64, _CHUNK_CELLS // max(n_courses, 1))
        for start in range(0, n, rows_per_chunk):
            rows = order[start : start + rows_per_chunk]
            held_rows = held[rows] if n > 1 else held
            if collaborative is not None:
                collab = collaborative[rows]
                if not sparse.issparse(collab):
                    collab = np.asarray(collab)
            elif use_peers:
                collab = _collaborative_block(
                    held_rows,
                    groups[rows],
                    None if ids is None else ids[rows],
                    peers,
                    neighbours,
                    n_courses,
                )
            else:
                collab = None
            _rank_chunk(
                index,
                rows,
                (required[rows] if n > 1 else required).toarray(),
                held_rows.toarray(),
                satisfied[rows] if n > 1 else satisfied,
                None if external_ok is None else external_ok[rows].toarray() > 0,
                collab,
                signal_weights,
                k,
                result,
            )
    return result


def collaborative_matrix(
    workers: WorkerBatch, peers: PeerPool, n_courses: int, neighbours: int = NEIGHBOURS
) -> sparse.csr_matrix:
    """n × C collaborative scores of a batch against a peer pool, as rank_workers uses them
    (e.g. to pass one row to `recommend(collaborative=...)`)."""
    held = sparse.csr_matrix(workers.held, dtype=np.float32)
    n = held.shape[0]
    groups = (
        np.zeros(n, np.int64) if workers.groups is None else np.asarray(workers.groups, np.int64)
    )
    ids = None if workers.ids is None else np.asarray(workers.ids, np.int64)
    order = np.argsort(groups, kind="stable")
    with _one_blas_thread():
        block = _collaborative_block(
            held[order],
            groups[order],
            None if ids is None else ids[order],
            peers,
            neighbours,
            n_courses,
        )
    return sparse.csr_matrix(block[np.argsort(order)])


def _collaborative_block(held, groups, ids, peers: PeerPool, neighbours, n_courses):
    """Sparse m × C collaborative scores for rows sorted by group."""
    parts = []
    cuts = np.flatnonzero(np.diff(groups)) + 1
    for run in np.split(np.arange(held.shape[0]), cuts):
        pool = peers.groups.get(int(groups[run[0]]))
        if pool is None:
            parts.append(sparse.csr_matrix((run.size, n_courses), dtype=np.float32))
            continue
        run_held = held[run] if len(cuts) else held
        parts.append(
            neighbour_scores(run_held, pool, neighbours, None if ids is None else ids[run])
        )
    return parts[0] if len(parts) == 1 else sparse.vstack(parts, format="csr")


def _rank_chunk(index, rows, required, held, satisfied_rows, external_ok, collab, weights, k, out):
    """Rank one block of rows: all per-course work is on the sparse candidate entries."""
    w_cover, w_content, w_collab = weights
    m, n_courses = len(rows), len(index.slugs)
    np.clip(required, 0, MAX_LEVEL, out=required)
    np.clip(held, 0, MAX_LEVEL, out=held)
    gap = np.maximum(required - held, 0)
    cover = coverage_matrix(index.ladder, required, held)
    er = np.repeat(np.arange(m), np.diff(cover.indptr))
    ec = cover.indices.astype(np.int64)
    cov = cover.data
    satisfied = np.zeros((m, n_courses), dtype=bool)
    satisfied[np.repeat(np.arange(m), np.diff(satisfied_rows.indptr)), satisfied_rows.indices] = (
        True
    )
    keep = ~satisfied[er, ec]
    needs_pull = None
    if index.pre_courses.size and keep.any():
        candidate = np.zeros((m, n_courses), dtype=bool)
        candidate[er[keep], ec[keep]] = True
        eligible, needs_pull = _eligible(index, candidate, satisfied, external_ok)
        pos = index.pre_position[ec]
        gated = keep & (pos >= 0)
        keep[gated] = eligible[er[gated], pos[gated]]
    er, ec, cov = er[keep], ec[keep], cov[keep]
    if not er.size:
        return  # nobody in this block has a course to take: rows stay -1 padded
    row_start = np.searchsorted(er, np.arange(m + 1))  # entries are grouped by row
    # content: cosine of the gap query (sum of unit skill vectors) with each course
    query = sparse.csr_matrix(gap > 0, dtype=np.float32)
    cont = rows_times_dense(query, index.content_fixed)[er, ec]  # exact integer sums
    cont /= _text_norms(query, index.gram_fixed)[er]
    np.clip(cont, 0.0, 1.0, out=cont)
    if collab is None:
        col = np.zeros_like(cov)
    elif sparse.issparse(collab):
        col = collab.toarray()[er, ec]
    else:
        col = collab[er, ec].astype(np.float32)
    score = (w_cover * cov + w_content * cont + w_collab * col).astype(np.float32)
    # rank by score, ties in catalogue order; rows stay apart in the sort key
    bits = max(1, (n_courses - 1).bit_length())
    key = _float_key(np.maximum(score, 0), bits) | (n_courses - 1 - ec)
    key_bits = bits + 31
    order = np.argsort((er << key_bits) | ((1 << key_bits) - 1 - key))
    row_sorted = er[order]
    rank = np.arange(order.size) - row_start[row_sorted]
    kk = min(k, n_courses)
    chosen = rank < kk
    entry = np.full((m, kk), -1, np.int64)
    entry[row_sorted[chosen], rank[chosen]] = order[chosen]
    top = np.where(entry >= 0, ec[np.maximum(entry, 0)], -1)
    after = np.full((m, kk), -1, np.int64)
    if needs_pull is not None:
        pos = index.pre_position[np.maximum(top, 0)]
        r_idx, c_idx = np.nonzero((top >= 0) & (pos >= 0))
        pulled = np.zeros(top.shape, bool)
        pulled[r_idx, c_idx] = needs_pull[r_idx, pos[r_idx, c_idx]]
        redo = np.flatnonzero(pulled.any(axis=1))
        for r in redo:
            top[r], after[r] = _place_with_prerequisites(index, top[r], satisfied[r], kk)
        if redo.size:  # entry of each (row, course) now listed: a small row × course lookup
            counts = row_start[redo + 1] - row_start[redo]
            own = np.repeat(row_start[redo] - np.cumsum(counts) + counts, counts) + np.arange(
                counts.sum()
            )
            lookup = np.full((redo.size, n_courses), -1, np.int64)
            lookup[np.repeat(np.arange(redo.size), counts), ec[own]] = own
            entry[redo] = np.where(
                top[redo] >= 0, lookup[np.arange(redo.size)[:, None], np.maximum(top[redo], 0)], -1
            )
    valid = entry >= 0
    safe = np.maximum(entry, 0)
    out.courses[rows, :kk] = top
    out.after[rows, :kk] = after
    out.scores[rows, :kk] = np.where(valid, score[safe], 0)
    out.signals["coverage"][rows, :kk] = np.where(valid, cov[safe], 0)
    out.signals["content"][rows, :kk] = np.where(valid, cont[safe], 0)
    out.signals["collaborative"][rows, :kk] = np.where(valid, col[safe], 0)
    reason, closes = _reasons(index, np.maximum(top, 0), valid, gap, required, held)
    out.reason_skill[rows, :kk] = reason
    out.closes_count[rows, :kk] = closes


def _place_with_prerequisites(index: CourseIndex, ranked, satisfied, k):
    """One worker's list: each course preceded by its prerequisites still to take (all eligible
    by construction), in ranked order, cut at k."""
    courses: list[int] = []
    after: list[int] = []
    placed: set[int] = set()

    def place(course: int) -> None:
        if course in placed:
            return
        missing = [p for p in index.prerequisites[course] if not satisfied[p]]
        for pre in missing:
            place(pre)
        courses.append(course)
        after.append(missing[0] if missing else -1)
        placed.add(course)

    for course in ranked:
        if course < 0 or len(courses) >= k:
            break
        place(int(course))
    courses, after = courses[:k], after[:k]
    pad = k - len(courses)
    return np.array(courses + [-1] * pad), np.array(after + [-1] * pad)


def _reasons(index, courses, valid, gap, required, held):
    """Per chosen course: the biggest gap it closes (else narrows), and how many it closes."""
    skills = index.course_skills[courses]  # m × k × T
    levels = index.course_skill_levels[courses].astype(np.float32)
    safe = np.maximum(skills, 0)
    pick = np.arange(courses.shape[0])[:, None, None]
    g, r, h = gap[pick, safe], required[pick, safe], held[pick, safe]
    present = (skills >= 0) & (g > 0) & valid[..., None]
    closes = present & (levels >= r)
    narrows = present & (levels > h) & ~closes
    n_skills = max(len(index.skill_ids), 1)
    rank = np.where(closes, 2, np.where(narrows, 1, 0)).astype(np.int64)
    code = (rank * (MAX_LEVEL + 1) + g.astype(np.int64)) * (n_skills + 1) + (n_skills - safe)
    code = np.where(rank > 0, code, -1)
    best = code.argmax(axis=2)[..., None]
    reason = np.where(
        np.take_along_axis(code, best, axis=2)[..., 0] >= 0,
        np.take_along_axis(skills, best, axis=2)[..., 0],
        -1,
    )
    return reason, closes.sum(axis=2)
