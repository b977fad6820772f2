"""Benchmark: certificate PDFs (lms/certificates/render.py and signing.py), no database.

Builds N certificate contexts with varied Chinese names (about 1 in 40 with a Hanzi outside
GB 2312, which makes the renderer use the full CJK font), courses, firms and skills, and makes
each PDF the way service.pdf_bytes does: render_html, render_pdf (the QR code is drawn inside),
then a PAdES signature with a consortium key (made once, in a temporary folder, before the
workers start; each worker loads it once). It measures:
- PDFs per second with one worker process and with two (each process makes two certificates
  to warm up first, then all start together; wall time from the start to the last PDF), signed
  (the figures that count) and, for comparison, unsigned;
- median and p95 milliseconds per PDF, CPU milliseconds per PDF, median PDF size, and the
  median milliseconds of the signing step alone (sign_ms);
- the first (cold) PDF of a process: font set-up, stylesheet parsing, WeasyPrint's imports (and
  pyHanko's, and the key's loading, when signing);
- peak memory (ru_maxrss) of this process and of the worker processes;
- and, as the baseline in the same run, WeasyPrint used the common way: a fresh
  FontConfiguration and font stylesheet for every PDF, the installed font read each time.
Last line: a JSON object of the figures.

    .venv/bin/python bench/certificates.py [--count 200] [--baseline 10] [--seed 1] [--repeat 1]

The machine is shared: the wall-clock figures (PDFs/s, medians) drop when other work runs, the
CPU figures much less; load_avg_1min in the JSON says how busy it was, and --repeat N keeps the
fastest of N runs of each measurement.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lms.certificates import render, signing  # noqa: E402

CONSORTIUM = "唐山市智能制造跨企业培训联合体"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红飞鹏辉海波宁玉萍林鑫子涵浩宇晨阳思雨欣怡梓轩博文一诺佳琪俊杰"
RARE = "镕喆昇珺玥堃彧滢燊"  # not in GB 2312 (they are in GBK / GB 18030)
COURSES = [
    "PLC编程与调试",
    "工业机器人操作与编程",
    "数控车床加工工艺",
    "焊接安全与质量控制",
    "精益生产与5S管理",
    "设备预测性维护",
    "机器视觉检测基础",
    "MES系统应用",
    "电工安全作业(低压)",
    "叉车安全操作",
]
FIRMS = [
    "唐山冀东智能装备集团有限公司",
    "唐山港兴机械制造有限公司",
    "河北曹妃甸精密铸造股份有限公司",
    "唐山华北数控科技有限公司",
]
SKILLS = [
    ("PLC编程(IEC 61131-3)", "三级/高级工"),
    ("工业机器人示教", "四级/中级工"),
    ("数控编程", "二级/技师"),
    ("电气安全", "五级/初级工"),
    ("质量检验", "三级/高级工"),
]


def make_contexts(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    design = render.default_design()
    texts = {key: value["zh"] for key, value in design["texts"].items()}
    contexts = []
    for i in range(count):
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        if i % 40 == 39:
            given = rng.choice(RARE) + given[:1]
        serial = f"TS-2026-{100000 + i:06d}{'ABCDEFGHJK'[i % 10]}"
        url = f"https://lms.example.cn/verify/{serial}"
        course = rng.choice(COURSES)
        contexts.append(
            {
                "lang": "zh-CN",
                "t": texts,
                "serial": serial,
                "name": rng.choice(SURNAMES) + given,
                "consortium": "唐山市智能制造跨企业培训联合体",
                "firm": rng.choice(FIRMS),
                "course": course,
                "hours_label": f"{rng.choice((8, 16, 24, 32, 40))} 学时",
                "completed_label": f"完成日期 2026年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
                "expires_label": "有效期至 2027年11月28日" if rng.random() < 0.5 else None,
                "skills": [
                    {"name": name, "level": level}
                    for name, level in rng.sample(SKILLS, rng.randint(0, 2))
                ],
                "serial_label": f"证书编号 {serial}",
                "verify_url": url,
                "logo": None,
                "seal": None,
            }
        )
    return contexts


def colors() -> dict:
    design = render.default_design()
    return {"primary": design["primary_color"], "accent": design["accent_color"]}


def render_one(context: dict, key: Path | None = None) -> tuple[bytes, float]:
    """One PDF the way service.pdf_bytes makes it (the QR code is made inside this call), signed
    with the key file `key` when given; and the milliseconds the signing took."""
    html = render.render_html({**context, "qr": render.qr_image(context["verify_url"])})
    pdf = render.render_pdf(html, colors=colors(), images={})
    if key is None:
        return pdf, 0.0
    t = time.perf_counter()
    pdf = signing.sign_with_key_file(pdf, key, name=CONSORTIUM, code="TS")
    return pdf, (time.perf_counter() - t) * 1000


def worker(contexts, key, ready, start, results) -> None:
    """Warm up, say so, wait for the start, make the PDFs, send the timings. The warm-up makes
    one certificate (its time is the cold render, with pyHanko's import and the key's loading
    when signing) and one with a name outside GB 2312 (which sets up the full font once per
    process)."""
    t = time.perf_counter()
    render_one(contexts[0], key)
    cold_ms = (time.perf_counter() - t) * 1000
    render_one({**contexts[0], "name": "朱镕基"}, key)
    ready.put(cold_ms)
    start.wait()
    timings, sizes, sign_timings = [], [], []
    cpu = time.process_time()
    for context in contexts:
        t = time.perf_counter()
        pdf, sign_ms = render_one(context, key)
        timings.append((time.perf_counter() - t) * 1000)
        sizes.append(len(pdf))
        sign_timings.append(sign_ms)
    cpu_ms = (time.process_time() - cpu) * 1000
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put((timings, sizes, cpu_ms, rss_mb, sign_timings))


def run_processes(contexts: list[dict], processes: int, key: Path | None) -> dict:
    ctx = mp.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    shares = [contexts[i::processes] for i in range(processes)]
    workers = [
        ctx.Process(target=worker, args=(share, key, ready, start, results)) for share in shares
    ]
    for p in workers:
        p.start()
    cold = [ready.get() for _ in workers]
    t = time.perf_counter()
    start.set()
    outcome = [results.get() for _ in workers]
    wall = time.perf_counter() - t
    for p in workers:
        p.join()
    timings = [ms for o in outcome for ms in o[0]]
    sizes = [size for o in outcome for size in o[1]]
    return {
        "pdfs_per_s": len(timings) / wall,
        "median_ms": statistics.median(timings),
        "p95_ms": statistics.quantiles(timings, n=20)[18],
        "cpu_ms": sum(o[2] for o in outcome) / len(timings),
        "pdf_kb": statistics.median(sizes) / 1024,
        "max_kb": max(sizes) / 1024,
        "cold_ms": max(cold),
        "worker_rss_mb": max(o[3] for o in outcome),
        "sign_ms": statistics.median(ms for o in outcome for ms in o[4]),
    }


def best_of(repeat: int, contexts: list[dict], processes: int, key: Path | None) -> dict:
    runs = [run_processes(contexts, processes, key) for _ in range(max(1, repeat))]
    return max(runs, key=lambda r: r["pdfs_per_s"])


def baseline_ms(contexts: list[dict]) -> float:
    """WeasyPrint the common way: new FontConfiguration + font CSS per PDF, the font re-read."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    style = (render.DEFAULT_DIR / "certificate.css").read_text(encoding="utf-8")
    c = colors()
    timings = []
    for context in contexts:
        t = time.perf_counter()
        config = FontConfiguration()
        font_url = render.asset_url("font")
        fetcher = render._fetcher_class()({font_url: (render.font_path().read_bytes(), "font/ttf")})
        sheets = [
            CSS(
                string=f'@font-face {{ font-family: cjk; src: url("{font_url}"); }}',
                font_config=config,
                url_fetcher=fetcher,
            ),
            CSS(string=f":root {{ --primary: {c['primary']}; --accent: {c['accent']}; }}"),
            CSS(string=style, font_config=config),
        ]
        html = render.render_html({**context, "qr": render.qr_image(context["verify_url"])})
        HTML(string=html, base_url=render.ASSET_SCHEME, url_fetcher=fetcher).write_pdf(
            stylesheets=sheets, font_config=config
        )
        timings.append((time.perf_counter() - t) * 1000)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="PDFs per measurement (200)")
    parser.add_argument("--baseline", type=int, default=10, help="PDFs for the baseline (10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each measurement this many times and keep the fastest (a shared machine)",
    )
    args = parser.parse_args(argv)
    contexts = make_contexts(args.count, args.seed)
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load:.1f} before the run "
        "(other work on the machine slows both measurements)"
    )
    print(
        f"font: {render.font_path()} (cut font {render.cut_font()}); {args.count} certificates, "
        f"{sum(any(c in RARE for c in x['name']) for x in contexts)} with a name outside GB 2312"
    )
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as folder:
        key = Path(folder) / "consortium.pem"
        signing.create_key_file(key, name=CONSORTIUM, code="TS")
        one = best_of(args.repeat, contexts, 1, key)
        two = best_of(args.repeat, contexts, 2, key)
    one_unsigned = best_of(args.repeat, contexts, 1, None)
    two_unsigned = best_of(args.repeat, contexts, 2, None)
    base = baseline_ms(contexts[: args.baseline])
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{'':22} {'PDFs/s':>7} {'median ms':>10} {'p95 ms':>7} {'CPU ms/PDF':>11} "
        f"{'sign ms':>8} {'PDF KB':>7} {'max KB':>7} {'cold ms':>8} {'RSS MB':>7}"
    )
    for label, r in (
        ("1 process, signed", one),
        ("2 processes, signed", two),
        ("1 process, unsigned", one_unsigned),
        ("2 processes, unsigned", two_unsigned),
    ):
        print(
            f"{label:22} {r['pdfs_per_s']:7.1f} {r['median_ms']:10.1f} {r['p95_ms']:7.1f} "
            f"{r['cpu_ms']:11.1f} {r['sign_ms']:8.1f} {r['pdf_kb']:7.1f} {r['max_kb']:7.1f} "
            f"{r['cold_ms']:8.0f} {r['worker_rss_mb']:7.0f}"
        )
    print(
        f"baseline (fresh FontConfiguration per PDF, full font re-read, unsigned): {base:.0f} "
        f"ms/PDF median over {args.baseline}; "
        f"{base / one_unsigned['median_ms']:.1f}× the warm unsigned median"
    )
    print(f"peak memory: this process {parent_mb:.0f} MB, worker processes {children_mb:.0f} MB")
    figures = {
        "count": args.count,
        # Signed PDFs, as the service makes them: the figures of the target.
        "pdfs_per_s_1proc": round(one["pdfs_per_s"], 1),
        "pdfs_per_s_2proc": round(two["pdfs_per_s"], 1),
        "median_ms": round(one["median_ms"], 1),
        "median_ms_2proc": round(two["median_ms"], 1),
        "p95_ms": round(one["p95_ms"], 1),
        "cpu_ms_per_pdf": round(one["cpu_ms"], 1),
        "cpu_ms_per_pdf_2proc": round(two["cpu_ms"], 1),
        "sign_ms": round(one["sign_ms"], 1),
        "pdf_kb": round(one["pdf_kb"], 1),
        "max_pdf_kb": round(max(one["max_kb"], two["max_kb"]), 1),
        "cold_ms": round(one["cold_ms"]),
        # The same without the signature.
        "pdfs_per_s_1proc_unsigned": round(one_unsigned["pdfs_per_s"], 1),
        "pdfs_per_s_2proc_unsigned": round(two_unsigned["pdfs_per_s"], 1),
        "median_ms_unsigned": round(one_unsigned["median_ms"], 1),
        "cpu_ms_per_pdf_unsigned": round(one_unsigned["cpu_ms"], 1),
        "pdf_kb_unsigned": round(one_unsigned["pdf_kb"], 1),
        "peak_mb": round(max(parent_mb, children_mb), 1),
        "peak_mb_parent": round(parent_mb, 1),
        "peak_mb_workers": round(children_mb, 1),
        "baseline_ms": round(base, 1),
        "load_avg_1min": round(load, 2),
        "repeat": args.repeat,
        "target_met": two["pdfs_per_s"] >= 30,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
