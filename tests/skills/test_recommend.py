"""The recommender: gaps, the three signals, prerequisites, reasons and the learning path."""

from __future__ import annotations

import numpy as np

from lms.skills.recommend import (
    Course,
    Gap,
    collaborative_scores,
    content_scores,
    coverage_scores,
    find_gaps,
    learning_path,
    reason_text,
    recommend,
)

PLC = Course(
    "plc", "PLC编程与调试", "梯形图 定时器 计数器", 32, {"plc_programming": 3, "hmi_scada": 2}
)
PLC_INTRO = Course("plc-intro", "PLC入门", "梯形图基础", 8, {"plc_programming": 1})
ROBOT = Course(
    "robot",
    "工业机器人安全操作",
    "示教器 安全",
    24,
    {"robot_safe_operation": 2},
    prerequisites=("safety",),
)
SAFETY = Course("safety", "安全生产基础", "上锁挂牌 危险源", 12, {"safety_law_duties": 2})
NETWORK = Course("net", "Industrial networks", "Modbus OPC UA MQTT", 20, {"modbus": 2})
COURSES = [PLC, PLC_INTRO, ROBOT, SAFETY, NETWORK]
TEXTS = {
    "plc_programming": "PLC编程 梯形图",
    "hmi_scada": "人机界面 组态",
    "robot_safe_operation": "工业机器人 安全操作 示教器",
    "safety_law_duties": "安全生产法",
}


def test_gaps_are_required_minus_held_where_positive_biggest_first():
    gaps = find_gaps(
        {"plc_programming": 4, "hmi_scada": 2, "modbus": 1}, {"plc_programming": 1, "modbus": 2}
    )
    assert gaps == [Gap("plc_programming", 1, 4), Gap("hmi_scada", 0, 2)]


def test_coverage_gives_full_credit_only_when_the_required_level_is_reached():
    gaps = [Gap("plc_programming", 0, 3)]
    full, partial, none = coverage_scores([PLC, PLC_INTRO, NETWORK], gaps)
    assert full == 1.0 and 0 < partial < full and none == 0.0


def test_content_similarity_works_for_chinese_without_segmentation():
    scores = content_scores(["工业机器人 安全操作"], [PLC.title, ROBOT.title, NETWORK.title])
    assert scores.argmax() == 1


def test_collaborative_signal_follows_the_most_similar_peers():
    peers = np.array([[3, 0, 1], [0, 3, 0], [3, 0, 0]], dtype=float)
    completions = np.array([[1, 0], [0, 1], [1, 0]], dtype=float)
    scores = collaborative_scores(np.array([2.0, 0, 1]), peers, completions, k=2)
    assert scores[0] > scores[1]


def test_recommendations_rank_by_gap_closed_and_carry_the_gaps_as_reasons():
    gaps = find_gaps({"plc_programming": 3, "hmi_scada": 2}, {"plc_programming": 1})
    recs = recommend(COURSES, gaps, skill_texts=TEXTS)
    assert recs[0].slug == "plc"
    assert {g.skill for g in recs[0].closes} == {"plc_programming", "hmi_scada"}
    assert all(r.closes or r.narrows for r in recs)
    assert "net" not in [r.slug for r in recs], "a course closing no gap is not recommended"


def test_completed_and_in_progress_courses_are_excluded():
    gaps = find_gaps({"plc_programming": 3}, {})
    recs = recommend(COURSES, gaps, skill_texts=TEXTS, completed=["plc"], in_progress=["plc-intro"])
    assert [r.slug for r in recs] == []


def test_a_course_comes_after_its_missing_prerequisite_or_not_at_all():
    gaps = find_gaps({"robot_safe_operation": 2, "safety_law_duties": 2}, {})
    slugs = [r.slug for r in recommend(COURSES, gaps, skill_texts=TEXTS)]
    assert slugs.index("safety") < slugs.index("robot")
    only_robot = find_gaps({"robot_safe_operation": 2}, {})
    assert recommend(COURSES, only_robot, skill_texts=TEXTS) == []
    assert [
        r.slug for r in recommend(COURSES, only_robot, skill_texts=TEXTS, completed=["safety"])
    ] == ["robot"]


def test_learning_path_orders_prerequisites_first_and_reports_what_stays_open():
    gaps = find_gaps({"robot_safe_operation": 2, "plc_programming": 3, "welding": 2}, {})
    path, hours, left = learning_path(COURSES, gaps)
    slugs = [c.slug for c in path]
    assert slugs.index("safety") < slugs.index("robot") and "plc" in slugs
    assert hours == sum(c.hours for c in path)
    assert [g.skill for g in left] == ["welding"]


def test_reason_names_the_gap_with_national_level_names_in_both_languages():
    gap = Gap("plc_programming", 1, 3)
    assert reason_text(gap, "PLC 梯形图编程", "zh_CN") == (
        "补齐岗位要求：PLC 梯形图编程 三级/高级工（当前 五级/初级工）"
    )
    assert reason_text(gap, "PLC ladder programming", "en") == (
        "Closes a role requirement: PLC ladder programming at Level 3 – senior worker "
        "(now Level 5 – junior worker)"
    )
