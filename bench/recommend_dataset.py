"""Generate a synthetic recommender dataset (seeded) in the format of `flask recommend evaluate`.

Workers hold some skills below their role's requirements; their later completions partly
follow their gaps and partly what peers of the same role took.

    python bench/recommend_dataset.py OUT_DIR [--workers 2000] [--courses 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SEED_TAXONOMY = ROOT / "lms" / "taxonomy" / "seed" / "taxonomy.yaml"


def generate(out: Path, *, workers: int = 2000, courses: int = 200, seed: int = 1) -> Path:
    rng = random.Random(seed)
    taxonomy = yaml.safe_load(SEED_TAXONOMY.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "skills.yaml").write_text(yaml.safe_dump(taxonomy, allow_unicode=True), encoding="utf-8")
    names = {s["id"]: s["name_zh"] for s in taxonomy["skills"]}
    roles = {
        r["id"]: {q["skill"]: q["level"] for q in r["required_skills"]} for r in taxonomy["roles"]
    }
    course_rows = []
    for n in range(courses):
        role = rng.choice(list(roles))
        taught = rng.sample(sorted(roles[role]), k=min(len(roles[role]), rng.randint(1, 3)))
        level = rng.randint(1, 4)
        prereqs = []
        if n > 10 and rng.random() < 0.2:
            prereqs = [course_rows[rng.randrange(n)]["slug"]]
        course_rows.append(
            {
                "slug": f"c{n:04d}",
                "title": "、".join(names[s] for s in taught) + f" 实训{n}",
                "summary": "面向一线员工的课程：" + "，".join(names[s] for s in taught),
                "language": "zh-CN",
                "hours": rng.choice([4, 8, 12, 16, 24]),
                "skills": [
                    {"skill": s, "level": min(5, level + rng.randint(0, 1))} for s in taught
                ],
                "prerequisites": prereqs,
            }
        )
    (out / "courses.yaml").write_text(
        yaml.safe_dump(course_rows, allow_unicode=True), encoding="utf-8"
    )
    by_skill: dict[str, list[dict]] = {}
    for c in course_rows:
        for s in c["skills"]:
            by_skill.setdefault(s["skill"], []).append(c)
    role_favourites = {r: rng.sample(course_rows, k=5) for r in roles}
    start = datetime(2026, 1, 1)
    with (
        open(out / "workers.csv", "w", encoding="utf-8", newline="") as wf,
        open(out / "history.csv", "w", encoding="utf-8", newline="") as hf,
    ):
        w_writer, h_writer = csv.writer(wf), csv.writer(hf)
        w_writer.writerow(["worker_id", "role", "target_role", "skills"])
        h_writer.writerow(["worker_id", "course_slug", "completed_at"])
        for i in range(workers):
            role = rng.choice(list(roles))
            target = rng.choice(list(roles)) if rng.random() < 0.3 else ""
            held = {s: rng.randint(0, max(0, lvl - 1)) for s, lvl in roles[role].items()}
            held = {s: lvl for s, lvl in held.items() if lvl}
            w_writer.writerow(
                [
                    f"w{i:05d}",
                    role,
                    target,
                    ";".join(f"{s}:{lvl}" for s, lvl in sorted(held.items())),
                ]
            )
            taken: set[str] = set()
            when = start + timedelta(days=rng.randint(0, 30))
            for _ in range(rng.randint(1, 6)):
                gaps = [s for s, lvl in roles[role].items() if held.get(s, 0) < lvl]
                options = []
                if gaps and rng.random() < 0.7:  # follow a gap
                    skill = rng.choice(gaps)
                    options = [c for c in by_skill.get(skill, []) if c["slug"] not in taken]
                if not options:  # follow the peers of the role
                    options = [c for c in role_favourites[role] if c["slug"] not in taken]
                if not options:
                    break
                course = rng.choice(options)
                for pre in course["prerequisites"]:
                    if pre not in taken:
                        taken.add(pre)
                        h_writer.writerow([f"w{i:05d}", pre, when.isoformat()])
                        when += timedelta(days=rng.randint(3, 20))
                taken.add(course["slug"])
                for s in course["skills"]:
                    held[s["skill"]] = max(held.get(s["skill"], 0), s["level"])
                h_writer.writerow([f"w{i:05d}", course["slug"], when.isoformat()])
                when += timedelta(days=rng.randint(3, 20))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=2000)
    parser.add_argument("--courses", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    generate(args.out, workers=args.workers, courses=args.courses, seed=args.seed)
    print(f"dataset written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
