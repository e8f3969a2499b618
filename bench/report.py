"""The Markdown summary of a run: a table per workload, the ratios Switchyard ÷ bare proxy and ÷ LiteLLM, and the
issue's targets checked against the figures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.load import BUILTIN, Measurement

SWITCHYARD_PREFIX = "switchyard"
TITLES = {"chat": "Chat, non-streaming", "stream": "Chat, streaming (SSE, 20 chunks)", "embeddings": "Embeddings"}


@dataclass(frozen=True)
class Target:
    text: str
    workloads: tuple[str, ...]
    concurrency: int
    limit: float
    kind: str  # "ratio_bare" (at least), "added_p50" / "added_p99" (at most, ms)


TARGETS = [
    Target("throughput ≥ 50 % of the bare proxy, c=16", ("chat", "stream"), 16, 0.5, "ratio_bare"),
    Target("latency added over direct, c=1: p50 ≤ 0.6 ms", ("chat", "stream", "embeddings"), 1, 0.6, "added_p50"),
    Target("latency added over direct, c=1: p99 ≤ 2 ms", ("chat", "stream", "embeddings"), 1, 2.0, "added_p99"),
    Target("latency added over direct, c=64: p99 ≤ 30 ms", ("chat", "stream", "embeddings"), 64, 30.0, "added_p99"),
]


class Results:
    def __init__(self, measurements: Iterable[Measurement]) -> None:
        self.all = list(measurements)
        self._index = {(m.stack, m.workload, m.concurrency): m for m in self.all}

    def get(self, stack: str, workload: str, concurrency: int) -> Measurement | None:
        return self._index.get((stack, workload, concurrency))

    def stacks(self) -> list[str]:
        return list(dict.fromkeys(m.stack for m in self.all))

    def workloads(self) -> list[str]:
        """The workloads measured on every stack (the built-in model's is reported on its own)."""
        return list(dict.fromkeys(m.workload for m in self.all if m.workload != BUILTIN.name))

    def builtin(self) -> list[Measurement]:
        return [m for m in self.all if m.workload == BUILTIN.name]

    def concurrencies(self) -> list[int]:
        return sorted({m.concurrency for m in self.all if m.workload != BUILTIN.name})

    def switchyard_stacks(self) -> list[str]:
        return [s for s in self.stacks() if s.startswith(SWITCHYARD_PREFIX)]

    def rps(self, stack: str, workload: str, concurrency: int) -> float | None:
        m = self.get(stack, workload, concurrency)
        return m.rps if m is not None else None

    def cpu(self, stack: str, workload: str, concurrency: int) -> float | None:
        m = self.get(stack, workload, concurrency)
        return m.cpu_us_per_request if m is not None else None

    def cpu_ratio(self, stack: str, other: str, workload: str, concurrency: int) -> float | None:
        """``other``'s CPU per request ÷ ``stack``'s: the throughput ratio a CPU-bound core would give, which a
        busy machine disturbs far less than req/s."""
        mine, theirs = self.cpu(stack, workload, concurrency), self.cpu(other, workload, concurrency)
        return theirs / mine if mine and theirs else None

    def added_ms(self, stack: str, workload: str, concurrency: int, percentile: str) -> float | None:
        m, direct = self.get(stack, workload, concurrency), self.get("direct", workload, concurrency)
        if m is None or direct is None:
            return None
        return (m.latency_us[percentile] - direct.latency_us[percentile]) / 1000


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def _opt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}"


def workload_table(results: Results, workload: str) -> list[str]:
    lines = [
        "| stack | conc. | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | CPU µs/req | errors "
        "| cores 0 / 1 busy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for stack in results.stacks():
        for concurrency in results.concurrencies():
            m = results.get(stack, workload, concurrency)
            if m is None:
                continue
            added = (
                ("–", "–")
                if stack == "direct"
                else tuple(_opt(results.added_ms(stack, workload, concurrency, p)) for p in ("p50", "p99"))
            )
            busy = " / ".join(f"{m.core_busy.get(str(c), 0.0) * 100:.0f} %" for c in (0, 1))
            lines.append(
                f"| {stack} | {concurrency} | {m.rps:,.0f} | {_ms(m.latency_us['p50'])} | {_ms(m.latency_us['p99'])} "
                f"| {added[0]} | {added[1]} | {_opt(m.cpu_us_per_request, 0)} | {m.error_count} | {busy} |"
            )
    return lines


def builtin_table(results: Results) -> list[str]:
    per_request = len(BUILTIN.body["input"])
    lines = [
        f"`{BUILTIN.path}` with {per_request} sentences per request, served in process by the gateway.",
        "",
        "| stack | conc. | req/s | sentences/s | p50 ms | p99 ms | CPU ms/req | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in results.builtin():
        cpu = "–" if m.cpu_us_per_request is None else f"{m.cpu_us_per_request / 1000:.1f}"
        lines.append(
            f"| {m.stack} | {m.concurrency} | {m.rps:,.1f} | {m.rps * per_request:,.0f} | {_ms(m.latency_us['p50'])} "
            f"| {_ms(m.latency_us['p99'])} | {cpu} | {m.error_count} |"
        )
    return lines


def ratio_table(results: Results) -> list[str]:
    """req/s of each Switchyard stack ÷ the bare proxy's and ÷ LiteLLM's; in brackets the same from CPU per
    request (the other's µs ÷ Switchyard's)."""
    columns = [(s, "bare") for s in results.switchyard_stacks()] + [(s, "litellm") for s in results.switchyard_stacks()]
    header = "| workload | conc. | " + " | ".join(f"{s} ÷ {o}" for s, o in columns) + " |"
    lines = [header, "| --- | ---: |" + " ---: |" * len(columns)]
    for workload in results.workloads():
        for concurrency in results.concurrencies():
            cells = []
            for stack, other in columns:
                cell = _ratio(results.rps(stack, workload, concurrency), results.rps(other, workload, concurrency))
                by_cpu = results.cpu_ratio(stack, other, workload, concurrency)
                cells.append(cell if by_cpu is None else f"{cell} ({by_cpu:.2f})")
            lines.append(f"| {workload} | {concurrency} | " + " | ".join(cells) + " |")
    return lines


def target_rows(results: Results) -> list[tuple[str, str, str, str, bool | None]]:
    """(target, stack, workload, measured, met) for every Switchyard stack; met is None when not measured."""
    rows: list[tuple[str, str, str, str, bool | None]] = []
    for target in TARGETS:
        for stack in results.switchyard_stacks():
            for workload in target.workloads:
                value: float | None
                if target.kind == "ratio_bare":
                    sy, bare = (
                        results.rps(stack, workload, target.concurrency),
                        results.rps("bare", workload, target.concurrency),
                    )
                    value = sy / bare if sy is not None and bare else None
                    shown = "–" if value is None else f"{value * 100:.0f} %"
                    by_cpu = results.cpu_ratio(stack, "bare", workload, target.concurrency)
                    shown += "" if by_cpu is None else f" (by CPU: {by_cpu * 100:.0f} %)"
                    met = None if value is None else value >= target.limit
                else:
                    percentile = target.kind.removeprefix("added_")
                    value = results.added_ms(stack, workload, target.concurrency, percentile)
                    shown = "–" if value is None else f"{value:.2f} ms"
                    met = None if value is None else value <= target.limit
                rows.append((target.text, stack, workload, shown, met))
    return rows


def targets_table(results: Results) -> list[str]:
    lines = ["| target | stack | workload | measured | met |", "| --- | --- | --- | ---: | :---: |"]
    marks = {True: "yes", False: "**no**", None: "–"}
    for text, stack, workload, shown, met in target_rows(results):
        lines.append(f"| {text} | {stack} | {workload} | {shown} | {marks[met]} |")
    return lines


def summary(
    results: Results,
    *,
    title: str,
    preamble: list[str],
    stack_notes: dict[str, list[str]],
    failures: dict[str, str],
) -> str:
    lines = [f"# {title}", "", *preamble, "", "## Stacks", ""]
    for stack, notes in stack_notes.items():
        lines.append(f"- **{stack}**: " + "; ".join(notes))
    for stack, reason in failures.items():
        lines.append(f"- **{stack}**: not measured — {reason}")
    for workload in results.workloads():
        lines += ["", f"## {TITLES.get(workload, workload)}", "", *workload_table(results, workload)]
    if results.builtin():
        lines += ["", "## Embeddings through the built-in model", "", *builtin_table(results)]
    if results.switchyard_stacks():
        lines += [
            "",
            "## Ratios of throughput",
            "",
            "req/s ÷ req/s; in brackets the same ratio from CPU per request "
            "(the other stack's µs ÷ Switchyard's), which other processes on the machine disturb far less.",
            "",
        ]
        lines += ratio_table(results)
        lines += ["", "## Targets", "", *targets_table(results)]
    return "\n".join(lines) + "\n"


def history_entry(results: Results, *, title: str, summary_name: str, context: str) -> str:
    """The section appended to ``bench/RESULTS.md``: c=16 throughput, c=1 added latency, targets missed."""
    lines = [f"### {title}", "", context, "", f"Full tables: [results/{summary_name}](results/{summary_name}).", ""]
    lines += [
        "| stack | " + " | ".join(f"{w} req/s c=16" for w in results.workloads()) + " | chat added p50 / p99 c=1 |"
    ]
    lines += ["| --- |" + " ---: |" * (len(results.workloads()) + 1)]
    for stack in results.stacks():
        cells = [_opt(results.rps(stack, w, 16), 0) for w in results.workloads()]
        added = "–"
        if stack != "direct":
            p50, p99 = (results.added_ms(stack, "chat", 1, p) for p in ("p50", "p99"))
            added = f"{_opt(p50)} / {_opt(p99)} ms"
        lines.append(f"| {stack} | " + " | ".join(cells) + f" | {added} |")
    builtin = [m for m in results.builtin() if m.concurrency == 1]
    if builtin:
        per_request = len(BUILTIN.body["input"])
        lines += [
            "",
            "Built-in embedding model, c=1: "
            + ", ".join(f"{m.stack} {m.rps * per_request:,.0f} sentences/s" for m in builtin)
            + ".",
        ]
    rows = target_rows(results)
    lines.append("")
    if rows:
        lines += ["| target | " + " | ".join(results.switchyard_stacks()) + " |"]
        lines += ["| --- |" + " --- |" * len(results.switchyard_stacks())]
        for target in TARGETS:
            cells = []
            for stack in results.switchyard_stacks():
                mine = [r for r in rows if r[0] == target.text and r[1] == stack]
                cells.append("; ".join(f"{w} {v}{'' if met else ' ✗'}" for _, _, w, v, met in mine))
            lines.append(f"| {target.text} | " + " | ".join(cells) + " |")
        lines += ["", "✗: missed."]
    return "\n".join(lines) + "\n"
