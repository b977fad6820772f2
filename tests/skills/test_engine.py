"""The batch engine: same answers as the one-worker recommender, and the ranking rules."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from lms.skills.engine import (
    WorkerBatch,
    build_index,
    build_peer_pool,
    collaborative_matrix,
    rank_workers,
)
from lms.skills.recommend import Course, find_gaps, recommend

WORDS = ["机器人", "安全", "焊接", "PLC", "robot", "safety", "welding", "network", "数据", "质量"]


def catalogue(seed: int = 3, n_skills: int = 14, n_courses: int = 40):
    rng = np.random.default_rng(seed)
    skills = [f"s{j:02d}" for j in range(n_skills)]
    texts = {s: " ".join(rng.choice(WORDS, 3)) + f" skill{j}" for j, s in enumerate(skills)}
    courses = []
    for i in range(n_courses):
        taught = rng.choice(n_skills, rng.integers(1, 4), replace=False)
        pre = (f"c{rng.integers(0, i):02d}",) if i > 4 and rng.random() < 0.3 else ()
        courses.append(
            Course(
                f"c{i:02d}",
                f"课程 {i}",
                " ".join(rng.choice(WORDS, 4)),
                8.0,
                {skills[j]: int(rng.integers(1, 6)) for j in taught},
                pre,
            )
        )
    return skills, texts, courses


def workers(rng, n: int, n_skills: int, n_courses: int, groups: int = 3) -> WorkerBatch:
    required = rng.integers(0, 6, (n, n_skills)) * (rng.random((n, n_skills)) < 0.5)
    held = np.minimum(required, rng.integers(0, 6, (n, n_skills)))
    completed = rng.random((n, n_courses)) < 0.1
    busy = (rng.random((n, n_courses)) < 0.05) & ~completed
    return WorkerBatch(
        sparse.csr_matrix(required.astype(np.float32)),
        sparse.csr_matrix(held.astype(np.float32)),
        sparse.csr_matrix(completed.astype(np.float32)),
        sparse.csr_matrix(busy.astype(np.float32)),
        groups=rng.integers(0, groups, n),
        ids=np.arange(n),
    )


def one(index, required=None, held=None, completed=(), in_progress=(), groups=None, ids=None):
    """A batch built from dicts: skill → level, and course slugs."""

    def row(values, columns, n):
        out = np.zeros((1, n), np.float32)
        for key, value in values.items():
            out[0, columns[key]] = value
        return sparse.csr_matrix(out)

    n_skills, n_courses = len(index.skill_ids), len(index.slugs)
    return WorkerBatch(
        row(required or {}, index.skill_index, n_skills),
        row(held or {}, index.skill_index, n_skills),
        row(dict.fromkeys(completed, 1), index.slug_index, n_courses),
        row(dict.fromkeys(in_progress, 1), index.slug_index, n_courses),
        groups=groups,
        ids=ids,
    )


def slugs(index, result, row=0):
    return [index.slugs[c] for c in result.courses[row] if c >= 0]


def test_the_batch_gives_each_worker_what_recommend_gives_them_alone():
    skills, texts, courses = catalogue()
    index = build_index(courses, texts, skills)
    batch = workers(np.random.default_rng(5), 60, len(skills), len(courses))
    peers = build_peer_pool(batch.held, batch.completed, batch.groups, batch.ids)
    result = rank_workers(index, batch, k=6, peers=peers)
    collab = collaborative_matrix(batch, peers, len(courses)).toarray()
    req, held = batch.required.toarray(), batch.held.toarray()
    done, busy = batch.completed.toarray(), batch.in_progress.toarray()
    with_prerequisite = 0
    for i in range(60):
        gaps = find_gaps(
            {skills[j]: int(v) for j, v in enumerate(req[i]) if v},
            {skills[j]: int(v) for j, v in enumerate(held[i]) if v},
        )
        recs = recommend(
            courses,
            gaps,
            skill_texts=texts,
            completed=[courses[c].slug for c in np.flatnonzero(done[i])],
            in_progress=[courses[c].slug for c in np.flatnonzero(busy[i])],
            collaborative=collab[i],
            limit=6,
            index=index,
        )
        assert [r.slug for r in recs] == slugs(index, result, i)
        assert [r.score for r in recs] == [
            round(float(s), 4) for s in result.scores[i, : len(recs)]
        ]
        expected_after = [index.slugs[a] if a >= 0 else None for a in result.after[i, : len(recs)]]
        assert [r.after for r in recs] == expected_after
        with_prerequisite += any(r.after for r in recs)
        alone = rank_workers(
            index,
            WorkerBatch(
                batch.required[i],
                batch.held[i],
                batch.completed[i],
                batch.in_progress[i],
                groups=batch.groups[i : i + 1],
                ids=batch.ids[i : i + 1],
            ),
            k=6,
            peers=peers,
        )
        assert np.array_equal(alone.courses[0], result.courses[i])
        assert np.array_equal(alone.scores[0], result.scores[i])
    assert with_prerequisite, "the sample should exercise the prerequisite rule"
    # building the index on the fly (no index=) ranks the same way
    gaps = find_gaps({skills[j]: int(v) for j, v in enumerate(req[0]) if v}, {})
    assert [r.slug for r in recommend(courses, gaps, skill_texts=texts, index=index)] == [
        r.slug for r in recommend(courses, gaps, skill_texts=texts)
    ]


def test_a_course_closing_a_bigger_gap_ranks_higher():
    courses = [
        Course("small", "Basics", "welding", 8, {"weld": 4, "plc": 1}),
        Course("big", "Basics", "welding", 8, {"weld": 1, "plc": 4}),
    ]
    index = build_index(courses, {"weld": "welding", "plc": "PLC"}, ["weld", "plc"])
    result = rank_workers(index, one(index, {"weld": 4, "plc": 4}, {"weld": 3}), k=5)
    assert slugs(index, result) == ["big", "small"]
    assert result.closes_count[0].tolist()[:2] == [1, 1]
    assert result.scores[0, 0] > result.scores[0, 1] > 0


def test_completed_and_in_progress_courses_never_appear():
    skills, texts, courses = catalogue(seed=8)
    index = build_index(courses, texts, skills)
    batch = workers(np.random.default_rng(9), 50, len(skills), len(courses))
    result = rank_workers(index, batch, k=10)
    taken = (batch.completed + batch.in_progress).toarray() > 0
    for i in range(50):
        listed = result.courses[i][result.courses[i] >= 0]
        assert not taken[i, listed].any()
        assert len(set(listed)) == len(listed)


def test_a_course_needs_its_prerequisite_listed_right_before_it_or_is_dropped():
    courses = [
        Course("robot", "Robots", "robot", 8, {"robot": 3}, ("safety",)),
        Course("safety", "Safety", "safety", 8, {"safety": 1}),
        Course("plc", "PLC", "plc", 8, {"plc": 1}),
    ]
    texts = {"robot": "robot", "safety": "safety", "plc": "plc"}
    index = build_index(courses, texts, ["robot", "safety", "plc"])
    # the prerequisite is itself a candidate: pulled up right before the course that needs it
    result = rank_workers(index, one(index, {"robot": 3, "safety": 1, "plc": 1}), k=5)
    assert slugs(index, result) == ["safety", "robot", "plc"]
    assert result.after[0, :3].tolist() == [-1, index.slug_index["safety"], -1]
    # the prerequisite works on no gap: the course is dropped
    result = rank_workers(index, one(index, {"robot": 3, "plc": 1}), k=5)
    assert slugs(index, result) == ["plc"]
    # completed or in progress, the prerequisite is satisfied
    for taken in ({"completed": ["safety"]}, {"in_progress": ["safety"]}):
        result = rank_workers(index, one(index, {"robot": 3}, **taken), k=5)
        assert slugs(index, result) == ["robot"] and result.after[0, 0] == -1
    # a prerequisite outside the catalogue drops the course unless taken (one-worker API)
    archived = [*courses, Course("cobot", "Cobots", "robot", 8, {"robot": 3}, ("old",))]
    index = build_index(archived, texts, ["robot", "safety", "plc"])
    gaps = find_gaps({"robot": 3}, {})
    assert [r.slug for r in recommend(archived, gaps, skill_texts=texts, index=index)] == []
    recs = recommend(archived, gaps, skill_texts=texts, completed=["old"], index=index)
    assert [r.slug for r in recs] == ["cobot"]


def test_prerequisite_chains_and_cycles():
    courses = [
        Course("c", "Top", "x", 8, {"a": 5}, ("b",)),
        Course("b", "Mid", "x", 8, {"a": 2}, ("a",)),
        Course("a", "Low", "x", 8, {"a": 1}),
        Course("loop1", "Loop", "x", 8, {"a": 5}, ("loop2",)),
        Course("loop2", "Loop", "x", 8, {"a": 4}, ("loop1",)),
    ]
    index = build_index(courses, {"a": "x"}, ["a"])
    result = rank_workers(index, one(index, {"a": 5}), k=5)
    assert slugs(index, result) == ["a", "b", "c"]  # cycles never qualify
    assert [index.slugs[a] if a >= 0 else None for a in result.after[0, :3]] == [None, "a", "b"]
    result = rank_workers(index, one(index, {"a": 5}), k=2)
    assert slugs(index, result) == ["a", "b"]


def test_the_reason_is_the_biggest_gap_closed_else_narrowed():
    courses = [
        Course("both", "Both", "x", 8, {"a": 3, "b": 5}),
        Course("narrow", "Narrow", "x", 8, {"a": 2, "b": 1}),
    ]
    index = build_index(courses, {}, ["a", "b"])
    result = rank_workers(index, one(index, {"a": 3, "b": 5}, {"a": 1, "b": 1}), k=5)
    assert slugs(index, result) == ["both", "narrow"]
    assert result.reason_skill[0].tolist()[:2] == [index.skill_index["b"], index.skill_index["a"]]
    assert result.closes_count[0].tolist()[:2] == [2, 0]
    # equal gaps: the first skill in index order
    result = rank_workers(index, one(index, {"a": 3, "b": 3}), k=1)
    assert result.reason_skill[0, 0] == index.skill_index["a"]


def test_peers_come_from_the_same_group_and_never_the_worker_itself():
    courses = [Course(s, s, "x", 8, {"a": 1}) for s in ("x", "y", "z")]
    index = build_index(courses, {"a": "x"}, ["a", "b"])
    levels = sparse.csr_matrix(np.array([[0, 1.0], [0, 1.0], [0, 1.0]]))  # held: b at 1
    completed = sparse.csr_matrix(np.array([[0, 0, 0], [0, 1, 0], [0, 0, 1.0]]))
    batch = WorkerBatch(
        sparse.csr_matrix(np.array([[3.0, 0]] * 3)),  # required: a at 3
        levels,
        completed,
        sparse.csr_matrix((3, 3)),
        groups=np.array([0, 0, 1]),
        ids=np.array([10, 11, 12]),
    )
    collab = collaborative_matrix(
        batch, build_peer_pool(levels, completed, batch.groups, batch.ids), 3
    ).toarray()
    assert collab[0].tolist() == [0, 1, 0]  # only "y", taken by the peer in its group
    assert collab[2].tolist() == [0, 0, 0]  # alone in its group: its own "z" does not count
    result = rank_workers(index, batch, k=3)
    assert result.signals["collaborative"][0].tolist() == [1, 0, 0]
    assert slugs(index, result, 0)[0] == "y"
    # the peer in another group has no effect
    alone = WorkerBatch(batch.required[:1], levels[:1], completed[:1], batch.in_progress[:1])
    other_group = rank_workers(
        index, alone, k=3, peers=build_peer_pool(levels[2:], completed[2:], np.array([1]))
    )
    assert other_group.signals["collaborative"][0].tolist() == [0, 0, 0]


def test_empty_inputs_give_padded_rows():
    courses = [Course("x", "X", "x", 8, {"a": 2})]
    index = build_index(courses, {"a": "x"}, ["a"])
    no_gap = rank_workers(index, one(index, {"a": 2}, {"a": 2}), k=3)
    all_done = rank_workers(index, one(index, {"a": 2}, completed=["x"]), k=3)
    for result in (no_gap, all_done):
        assert result.courses.tolist() == [[-1, -1, -1]]
        assert result.after.tolist() == result.reason_skill.tolist() == [[-1, -1, -1]]
        assert result.scores.tolist() == [[0, 0, 0]]
    empty = build_index([], {"a": "x"}, ["a"])
    result = rank_workers(empty, one(empty, {"a": 2}), k=2)
    assert result.courses.shape == (1, 2) and (result.courses == -1).all()
    assert recommend([], find_gaps({"a": 2}, {}), skill_texts={}) == []
    nobody = rank_workers(index, workers(np.random.default_rng(1), 0, 1, 1), k=4)
    assert nobody.courses.shape == (0, 4)
