"""The results of one benchmark run: the targets, bench/results/latest.json, and the printed table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.stats import Spread

if TYPE_CHECKING:
    from bench.handout import HandOutChecks

# The targets of issue 7. Ratios are ours over the floor (for generate_10k, seconds over seconds).
MIN_HOT_RATIO = 1.0
MAX_HOT_P99_MS = 60.0
MIN_SPREAD_RATIO = 1.0
MIN_LOOKUP_RATIO = 0.85
MAX_GENERATE_RATIO = 2.0


@dataclass
class Side:
    """Repeated measurements of one contender: throughput (or seconds) and latency percentiles."""

    values: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)

    def add(self, value: float, p50_ms: float | None = None, p99_ms: float | None = None) -> None:
        self.values.append(value)
        if p50_ms is not None:
            self.p50_ms.append(p50_ms)
        if p99_ms is not None:
            self.p99_ms.append(p99_ms)

    def summary(self) -> dict:
        out = {"value": Spread.of(self.values).as_dict()}
        if self.p50_ms:
            out["p50_ms"] = Spread.of(self.p50_ms).as_dict()
            out["p99_ms"] = Spread.of(self.p99_ms).as_dict()
        return out


@dataclass
class Measurement:
    """Ours against the floor (and, for claims, the raw database) over the repetitions."""

    ours: Side = field(default_factory=Side)
    floor: Side = field(default_factory=Side)
    raw: Side = field(default_factory=Side)

    def ratio(self) -> float:
        return _median(self.ours.values) / _median(self.floor.values)

    def paired_ratios(self) -> list[float]:
        """Ours over floor within each repetition: robust to the machine's load drifting."""
        return [o / f for o, f in zip(self.ours.values, self.floor.values, strict=False) if f]


@dataclass
class Correctness:
    """After each claim run: claim rows, the counter and allowedClaims of every code it touched."""

    checks: list[dict] = field(default_factory=list)

    def add(self, label: str, codes: int, rows: int, counter: int, over_claims: int, mismatched: int) -> None:
        self.checks.append(
            {
                "run": label,
                "codes": codes,
                "rows": rows,
                "counter": counter,
                "over_claims": over_claims,
                "mismatched_codes": mismatched,
            }
        )

    @property
    def over_claims(self) -> int:
        return sum(check["over_claims"] for check in self.checks)

    @property
    def mismatched(self) -> int:
        return sum(check["mismatched_codes"] for check in self.checks)


@dataclass
class Results:
    claim_hot: Measurement
    claim_spread: Measurement
    lookup: Measurement
    generate_10k: Measurement
    correctness: Correctness
    machine: str
    when: str
    settings: dict
    # The hand-out row (bench.handout): assigns per second, and the checks after each run.
    hand_out: Measurement | None = None
    hand_out_checks: HandOutChecks | None = None

    def latest(self) -> dict:
        """bench/results/latest.json, in exactly the shape issue 7 gives."""
        return {
            "claim_hot": _claims(self.claim_hot),
            "claim_spread": _claims(self.claim_spread),
            "lookup": {
                "ours_rps": round(_median(self.lookup.ours.values), 1),
                "floor_rps": round(_median(self.lookup.floor.values), 1),
                "ratio": round(self.lookup.ratio(), 3),
            },
            "generate_10k": {
                "ours_s": round(_median(self.generate_10k.ours.values), 4),
                "floor_s": round(_median(self.generate_10k.floor.values), 4),
                "ratio": round(self.generate_10k.ratio(), 3),
            },
            "over_claims": self.correctness.over_claims,
            **({"hand_out": self._hand_out()} if self.hand_out is not None else {}),
            "machine": self.machine,
            "when": self.when,
        }

    def _hand_out(self) -> dict:
        return {
            "ours_rps": round(_median(self.hand_out.ours.values), 1),
            "floor_rps": round(_median(self.hand_out.floor.values), 1),
            "ratio": round(self.hand_out.ratio(), 3),
            "double_assignments": self.hand_out_checks.double_assignments,
        }

    def targets(self) -> list[tuple[str, str, bool]]:
        """(what, target, met) for every target of the issue."""
        hot_p99 = _median(self.claim_hot.ours.p99_ms)
        return [
            ("hot claims ratio", f">= {MIN_HOT_RATIO:.2f}", self.claim_hot.ratio() >= MIN_HOT_RATIO),
            ("hot claims p99", f"<= {MAX_HOT_P99_MS:.0f} ms", hot_p99 <= MAX_HOT_P99_MS),
            (
                "spread claims ratio",
                f">= {MIN_SPREAD_RATIO:.2f}",
                self.claim_spread.ratio() >= MIN_SPREAD_RATIO,
            ),
            ("lookups ratio", f">= {MIN_LOOKUP_RATIO:.2f}", self.lookup.ratio() >= MIN_LOOKUP_RATIO),
            (
                "generate 10k ratio",
                f"<= {MAX_GENERATE_RATIO:.2f}",
                self.generate_10k.ratio() <= MAX_GENERATE_RATIO,
            ),
            ("over-claims", "0", self.correctness.over_claims == 0 and self.correctness.mismatched == 0),
        ] + self._hand_out_targets()

    def _hand_out_targets(self) -> list[tuple[str, str, bool]]:
        if self.hand_out_checks is None:
            return []
        checks = self.hand_out_checks
        return [("double assignments", "0", checks.double_assignments == 0 and checks.lost == 0)]

    def full(self) -> dict:
        """Everything measured, for bench/results/latest-full.json."""
        measurements = {}
        names = ("claim_hot", "claim_spread", "lookup", "generate_10k") + (
            ("hand_out",) if self.hand_out is not None else ()
        )
        for name in names:
            measurement: Measurement = getattr(self, name)
            entry = {
                "ours": measurement.ours.summary(),
                "floor": measurement.floor.summary(),
                "ratio": measurement.ratio(),
                "paired_ratios": Spread.of(measurement.paired_ratios()).as_dict(),
            }
            if measurement.raw.values:
                entry["raw_db"] = measurement.raw.summary()
            measurements[name] = entry
        return {
            "latest": self.latest(),
            "measurements": measurements,
            "correctness": self.correctness.checks,
            "hand_out_checks": self.hand_out_checks.checks if self.hand_out_checks else [],
            "targets": [{"what": what, "target": target, "met": met} for what, target, met in self.targets()],
            "settings": self.settings,
        }

    def table(self) -> str:
        return format_table(self)


def _median(values: list[float]) -> float:
    return Spread.of(values).median


def _claims(measurement: Measurement) -> dict:
    return {
        "ours_rps": round(_median(measurement.ours.values), 1),
        "floor_rps": round(_median(measurement.floor.values), 1),
        "raw_db_tps": round(_median(measurement.raw.values), 1),
        "ratio": round(measurement.ratio(), 3),
    }


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(path)


def _range(values: list[float], digits: int) -> str:
    spread = Spread.of(values)
    return f"{spread.median:,.{digits}f} ({spread.low:,.{digits}f}-{spread.high:,.{digits}f})"


def _latency(side: Side) -> str:
    if not side.p50_ms:
        return ""
    return f"{_median(side.p50_ms):.1f} / {_median(side.p99_ms):.1f}"


def format_table(results: Results) -> str:
    """The table `make bench` prints: medians with min-max, p50/p99 in ms, ratios, targets."""
    targets = {what: (target, met) for what, target, met in results.targets()}

    def verdict(what: str) -> str:
        target, met = targets[what]
        return f"{target:>9}  {'met' if met else 'MISSED'}"

    rows = [("", "ours", "floor", "raw db", "ours/floor", "target")]
    measured = [
        ("hot claims", "claim_hot", "/s", 0, "hot claims ratio"),
        ("spread claims", "claim_spread", "/s", 0, "spread claims ratio"),
        ("lookups", "lookup", "/s", 0, "lookups ratio"),
        ("generate 10k", "generate_10k", "s", 3, "generate 10k ratio"),
    ]
    if results.hand_out is not None:
        measured.append(("hand-out assigns", "hand_out", "/s", 0, None))
    for label, name, unit, digits, target in measured:
        m: Measurement = getattr(results, name)
        paired = Spread.of(m.paired_ratios())
        rows.append(
            (
                f"{label} {unit}",
                _range(m.ours.values, digits),
                _range(m.floor.values, digits),
                _range(m.raw.values, digits) if m.raw.values else "",
                f"{m.ratio():.2f} ({paired.low:.2f}-{paired.high:.2f})",
                verdict(target) if target else "",
            )
        )
        if m.ours.p50_ms:
            rows.append(
                (
                    "  p50 / p99 ms",
                    _latency(m.ours),
                    _latency(m.floor),
                    _latency(m.raw),
                    "",
                    verdict("hot claims p99") if name == "claim_hot" else "",
                )
            )
    checks = results.correctness
    rows.append(
        (
            "over-claims",
            f"{checks.over_claims}",
            "",
            "",
            f"{checks.mismatched} codes with rows != counter, {len(checks.checks)} runs checked",
            verdict("over-claims"),
        )
    )
    if results.hand_out_checks is not None:
        handed = results.hand_out_checks
        rows.append(
            (
                "double assignments",
                f"{handed.double_assignments}",
                "",
                "",
                f"{handed.lost} answered codes unrecorded, {len(handed.checks)} runs checked",
                verdict("double assignments"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    header = [
        f"Codes API benchmark, {results.when}",
        f"machine: {results.machine}",
        "medians of the repetitions (min-max); ratio = ours over floor, paired per repetition",
    ]
    return "\n".join(header + [""] + lines)
