"""Robustness in an audit (issue 21): the settings an audit request may carry, checked once, and what the
report, its findings and its PDF read from the stored "robustness" result (models_core.robustness's
"models_core.robustness/1" report). Nothing is recomputed here."""

from __future__ import annotations

from governance.errors import ValidationFailed

MAX_EXPECTATIONS = 20
DEFAULT_MAX_TEXTS = 1000


def robustness_config(*, expectations: list[dict] | None, max_texts: int | None, seed: int, n_boot: int) -> dict:
    """The robustness settings stored in an audit's config: the audit's seed and bootstrap size, the texts
    tested at most, and the directional expectations, checked by the core (ValidationFailed names the field)."""
    from models_core.errors import InputError
    from models_core.robustness.report import resolve_config

    expectations = list(expectations or [])
    if len(expectations) > MAX_EXPECTATIONS:
        raise ValidationFailed(f"At most {MAX_EXPECTATIONS} directional expectations.",
                               field="robustness_expectations")
    config = {"seed": seed, "n_boot": n_boot, "max_texts": DEFAULT_MAX_TEXTS if max_texts is None else max_texts,
              "directional": [{k: e[k] for k in ("phrase", "direction", "tolerance", "position") if k in e}
                              if isinstance(e, dict) else e for e in expectations]}
    if isinstance(config["max_texts"], bool) or not isinstance(config["max_texts"], int) or \
            not 20 <= config["max_texts"] <= 100_000:
        raise ValidationFailed("Test between 20 and 100000 texts.", field="robustness_max_texts")
    try:
        resolved = resolve_config(config)
    except InputError as exc:
        raise ValidationFailed(f"Directional expectations: {exc}.", field="robustness_expectations") from exc
    config["directional"] = resolved["directional"]
    return config


def expectations_parse(text: str) -> list[dict]:
    """The form's expectations, one per line: ``phrase | up`` or ``phrase | down | 0.05`` (the tolerance)."""
    out = []
    for n, line in enumerate((line for line in (text or "").splitlines() if line.strip()), start=1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) not in (2, 3) or not parts[0] or parts[1] not in ("up", "down"):
            raise ValidationFailed(f"Line {n}: write “phrase | up” or “phrase | down”, optionally “| tolerance”.",
                                   field="robustness_expectations")
        expectation = {"phrase": parts[0], "direction": parts[1]}
        if len(parts) == 3:
            try:
                expectation["tolerance"] = float(parts[2])
            except ValueError:
                raise ValidationFailed(f"Line {n}: the tolerance must be a number.",
                                       field="robustness_expectations") from None
        out.append(expectation)
    return out


def suites_in_order(result: dict | None) -> list[tuple[str, dict]]:
    """(name, figures) of each suite in the order the audit ran them (its config's list): the stored JSON object
    keeps no key order (PostgreSQL's jsonb sorts keys by length)."""
    suites = (result or {}).get("suites") or {}
    order = [n for n in ((result or {}).get("config") or {}).get("suites") or [] if n in suites]
    return [(name, suites[name]) for name in order + sorted(set(suites) - set(order))]


def robustness_findings(result: dict | None) -> list[str]:
    """Findings for the reviewer: suites whose flip rate is significantly above zero, failing expectations,
    and a successful attack."""
    if not isinstance(result, dict) or "suites" not in result:
        return []
    findings = []
    flipping = [f"{s.get('label', name)} {s['flip_rate']['value']:.3f}" for name, s in suites_in_order(result)
                if (s.get("flip_rate") or {}).get("ci", [None])[0] and s["flip_rate"]["ci"][0] > 0]
    if flipping:
        findings.append(f"Decisions change under perturbations that should not matter (flip rate, interval above "
                        f"zero): {', '.join(flipping)}.")
    failing = [e["phrase"] for e in result.get("directional") or []
               if (e.get("failure_rate") or {}).get("ci", [None])[0] and e["failure_rate"]["ci"][0] > 0]
    if failing:
        findings.append(f"{len(failing)} directional expectation(s) fail on some texts: {', '.join(failing[:3])}.")
    attack = result.get("adversarial") or {}
    if attack.get("n_succeeded"):
        findings.append(f"The word-substitution attack changed {attack['n_succeeded']} of {attack['n_attacked']} "
                        f"decisions with {attack['mean_words_changed']:.1f} word(s) on average.")
    return findings


def _ci(figure) -> str:
    if not isinstance(figure, dict) or figure.get("value") is None:
        return "—"
    low, high = (figure.get("ci") or [None, None])[:2]
    return f"{figure['value']:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else "")


def robustness_pdf_blocks(result: dict | None) -> list[tuple]:
    """The robustness section of the exported PDF (the HTML export renders the page's section)."""
    if not isinstance(result, dict) or "suites" not in result:
        return []
    blocks: list[tuple] = [
        ("h", "Robustness (EU AI Act Art. 15)"),
        ("p", f"{result['n_texts']} texts; a flip is a change of the predicted class ({result['decision']}); "
              f"intervals are {int(100 * result['config']['confidence'])}% bootstrap intervals over texts."),
        ("table", ["Suite", "Texts changed", "Flipped", "Flip rate", "Mean |Δp|"],
         [[s["label"], s["n_changed"], s["n_flipped"], _ci(s["flip_rate"]), _ci(s["mean_abs_change"])]
          for _, s in suites_in_order(result)])]
    if result.get("directional"):
        blocks.append(("table", ["Expectation", "Direction", "Tolerance", "Failure rate", "Mean Δp"],
                       [[e["phrase"], e["direction"], e["tolerance"], _ci(e["failure_rate"]), _ci(e["mean_change"])]
                        for e in result["directional"]]))
    attack = result.get("adversarial") or {}
    if "attack_success_rate" in attack:
        blocks.append(("kv", [("Texts attacked", attack["n_attacked"]),
                              ("Attack success rate", _ci(attack["attack_success_rate"])),
                              ("Mean words changed", attack["mean_words_changed"]),
                              ("Queries per success", attack["queries_per_success"])]))
    elif attack.get("skipped"):
        blocks.append(("p", f"Adversarial search not run: {attack['skipped']}."))
    return blocks
