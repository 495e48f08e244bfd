"""Data minimisation in what readers see of an audit: the texts of its stored results (explained rows,
counterfactual and robustness examples) with the personal data the PII scan finds masked (``[PERSON]``,
``[PHONE]``, ...), on the report page, in its HTML and PDF exports and in `GET /api/audits/<id>/`.

Masking happens when the results are shown, never when they are stored: the stored results (and their
digests) stay as the worker wrote them, and an erasure redacts them (compliance). The scan is
models_core.pii.mask_text / mask_tokens, cached per distinct text in the process.

Every text shown is reachable by a `ref`, the path of keys and list positions from the results to it
("explanations/texts/3", "counterfactual/directions/female→male/worst/0/original"); a reviewer or a
compliance officer may reveal the one text of a ref with a reason (services.audit_text_reveal, logged
without the text).
"""

from __future__ import annotations

from typing import Any, Iterator

# Keys whose string values are free text from the dataset (or a perturbation of it).
TEXT_KEYS = ("text", "original", "swapped", "perturbed", "variant", "preview")


def _walk(node: Any, path: tuple) -> Iterator[tuple[tuple, dict, str]]:
    """(path of the text, the dict holding it, its key) for every free text under `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TEXT_KEYS and isinstance(value, str):
                yield path + (key,), node, key
            elif isinstance(value, (dict, list)):
                yield from _walk(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                yield from _walk(value, path + (i,))


def ref_of(path: tuple) -> str:
    """The ref of a text: its path without the final "text" key of an explained row."""
    parts = path[:-1] if path[-1] == "text" else path
    return "/".join(str(p) for p in parts)


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node


def results_masked(results: dict) -> dict:
    """A copy of an audit's results with every free text masked; `masked_refs` lists what was masked."""
    from models_core.pii import mask_text, mask_tokens

    out = _copy(results)
    refs = []
    _mask_global_tokens(out)
    for path, holder, key in list(_walk(out, ())):
        text = holder[key]
        if key == "text" and isinstance(holder.get("tokens"), list):
            masked, tokens, n = mask_tokens(text, holder["tokens"])
            if n:
                holder["tokens"] = tokens
        else:
            masked = mask_text(text)
            n = masked != text
        if n:
            holder[key] = masked
            refs.append(ref_of(path))
    if isinstance(out, dict):
        out["masked_refs"] = refs
    return out


def _mask_global_tokens(results: dict) -> None:
    """Tokens and words of the explanations' global view (top tokens, per group, proxies, and the "all" rankings)
    that are a name, place or other finding in the explained texts, or a piece of one ("kowalski", "kowal",
    "##ski"), are shown as the finding's mask."""
    from models_core.pii import find_pii, mask_label

    explanations = results.get("explanations") if isinstance(results, dict) else None
    if not isinstance(explanations, dict) or not isinstance(explanations.get("global"), dict):
        return
    personal: dict[str, str] = {}
    for item in explanations.get("texts") or []:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            continue
        findings = find_pii(item["text"])
        # the global view ranks whole words since models_core.explain/2 ("words"), model tokens before
        words = [{"token": str(w.get("word", "")).lower(), "start": w.get("start", 0), "end": w.get("end", 0)}
                 for w in item.get("words") or [] if isinstance(w, dict)]
        for tok in [*(item.get("tokens") or []), *words]:
            word = str(tok.get("token", ""))
            if sum(ch.isalpha() for ch in word) < 3:
                continue  # "@", ".", "20", "##s": too common to name anyone
            start, end = int(tok.get("start", 0)), int(tok.get("end", 0))
            for f in findings:
                if start < f.end and f.start < end:
                    personal[word] = mask_label(f.kind)

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("token"), str) and node["token"] in personal:
                node["token"] = personal[node["token"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if personal:
        walk(explanations["global"])


def masked_texts(results: dict) -> list[dict]:
    """The texts that are shown masked, as {"ref", "label", "masked"} for the reveal form."""
    shown = results_masked(results)
    items = []
    for path, holder, key in _walk(shown, ()):
        ref = ref_of(path)
        if ref in shown.get("masked_refs", []):
            items.append({"ref": ref, "label": _label(path), "masked": holder[key]})
    return items


def _label(path: tuple) -> str:
    if path[:2] == ("explanations", "texts"):
        return f"Explained text {int(path[2]) + 1}"
    if path[:2] == ("counterfactual", "directions") and len(path) >= 5:
        return f"Counterfactual {path[2]}, example {int(path[4]) + 1}, {path[-1]}"
    if path[:2] == ("robustness", "suites") and len(path) >= 5:
        return f"Robustness {path[2]}, example {int(path[4]) + 1}, {path[-1]}"
    if path[:2] == ("robustness", "directional") and len(path) >= 5:
        return f"Directional expectation {int(path[2]) + 1}, example {int(path[4]) + 1}, {path[-1]}"
    if path[:2] == ("robustness", "adversarial") and len(path) >= 4:
        return f"Adversarial example {int(path[3]) + 1}, {path[-1]}"
    return " › ".join(str(p) for p in path)


def text_at(results: dict, ref: str) -> str | None:
    """The stored (unmasked) text a ref names, or None when it names none."""
    for path, holder, key in _walk(results, ()):
        if ref_of(path) == ref:
            return holder[key]
    return None
