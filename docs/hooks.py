"""mkdocs hook: the benchmark index is generated from benchmarks/results/*.json at build time."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- benchmark-index -->"


def benchmark_index() -> str:
    rows = ["| result file | benchmark | device | date |", "| --- | --- | --- | --- |"]
    for p in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        env = d.get("environment", {})
        dev = env.get("device_kind") or env.get("device") or env.get("backend", "")
        rows.append(f"| `{p.name}` | {d.get('benchmark', p.stem)} | {dev} ({env.get('backend', '?')}, "
                    f"{env.get('cpu_count', '?')} CPU cores) | {str(d.get('date', ''))[:10]} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files):  # noqa: ARG001 - mkdocs hook signature
    if MARK in markdown:
        markdown = markdown.replace(MARK, benchmark_index())
    return markdown


PARAMS = "<!-- run-parameters -->"


def run_parameters() -> str:
    """Tables of the parameters of every section of a ``jaxqp run`` configuration, from the schema."""
    from jaxqp.app import runconfig as rc

    out = []
    for title, schema in (("superconductor: `[material]`, or `[left]`/`[right]` with kind = \"superconductor\"",
                           rc.SUPERCONDUCTOR), ("normal metal: `[left]`/`[right]` with kind = \"normal\"", rc.NORMAL),
                          ("`[barrier]` (junction)", rc.BARRIER), ("`[wire]` (wire)", rc.WIRE),
                          ("`[injector]`, `[detector]` (wire)", rc.CONTACT), ("`[units]`", rc.UNITS)):
        out += [f"**{title}**", "", "| key | dimension | default | sweepable | meaning |",
                "| --- | --- | --- | --- | --- |"]
        for k, p in schema.items():
            default = "" if p.default is None else f"`{p.default}`"
            out.append(f"| `{k}` | {p.dim} | {default} | {'yes' if p.sweepable else 'no'} | {p.doc} |")
        if schema is rc.SUPERCONDUCTOR:
            out.append("| `self_consistent` | bool | `true` | no | Delta(T, h, ...) from the gap equation |")
        out.append("")
    return "\n".join(out)


_hook_benchmarks = on_page_markdown


def on_page_markdown(markdown: str, page, config, files):  # noqa: F811 - both markers
    markdown = _hook_benchmarks(markdown, page, config, files)
    if PARAMS in markdown:
        markdown = markdown.replace(PARAMS, run_parameters())
    return markdown
