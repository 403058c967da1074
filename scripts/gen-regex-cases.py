#!/usr/bin/env python3
"""Writes Tests/TracePipeTests/Fixtures/regex-cases.json: patterns with what RE2 says of them
(valid or not; for valid ones the first match and its groups in a few texts), for the regex
engine's tests. RE2 itself decides, through Google's Python binding (`pip install google-re2`);
where Go's regexp (the collector's engine) differs from RE2's C++ library, GO_DIFFERS says so
and why. Patterns: a hand-written table over the whole syntax, every pattern found in the
collector configs and conformance cases under ../shared and in pipelines/, and seeded random
ones.

Usage: python3 scripts/gen-regex-cases.py   (run from the repository root, with google-re2)
"""
import json
import os
import random
import re2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")

# Where Go's regexp (what the collector runs) and RE2's C++ library disagree; Go wins.
GO_DIFFERS = {
    r"a\C": "invalid",            # \C (any byte) is RE2-only; Go rejects it
    r"\C+": "invalid",
}

SYNTAX = [
    # literals, escapes
    "", "a", "abc", "a.c", r"a\.c", r"\x41", r"\x{263a}", r"\x{10FFFF}", r"\x{110000}", r"\x4", r"\xZZ", r"\x{}",
    r"\101", r"\0", r"\012", r"\1", r"\8", r"\_", r"\-", r"\Z", r"\e", r"\y", "\\", r"a\\", r"\Qa.b*c\E", r"\Qa.b", r"x\Q*\E+",
    r"\a\f\t\n\r\v", r"a\C", "caf\u00e9", "\u00e9+", "日本+", r"\é",
    # classes
    "[abc]", "[a-c]", "[^a-c]", "[]a]", "[^]a]", "[a-]", "[-a]", "[a-c-e]", "[z-a]", "[a", "[]", "[^]", r"[\d\s]", r"[^\w]",
    "[[:alpha:]]", "[[:^alpha:]]", "[[:word:]]+", "[[:foo:]]", "[[:alpha:]", "[[:alpha]", r"[\]]", r"[\[]", r"[\n]", r"[\b]",
    r"[\x{100}-\x{200}]", "[à-ÿ]+", r"[\p{Greek}\d]+", r"[^\p{L}]+",
    # Perl and Unicode classes
    r"\d+", r"\D+", r"\s+", r"\S+", r"\w+", r"\W+", r"\pL+", r"\p{L}+", r"\PL+", r"\P{L}+", r"\p{^L}+", r"\P{^L}+", r"\p{Lu}",
    r"\p{Greek}+", r"\p{Han}+", r"\p{Cyrillic}+", r"\p{Latin}+", r"\p{N}+", r"\p{Nd}+", r"\p{Zs}", r"\p{Any}+", r"\p{Foo}", r"\p{",
    r"\pZ", r"\p", r"\p{Sc}", r"\p{P}+", r"\p{Lo}+",
    # case folding
    "(?i)abc", "(?i)k", "(?i)s", "(?i)σ", "(?i)é", "(?i)[a-z]+", "(?i)[^k]", r"(?i)\w+", r"(?i)\p{Lu}+", "(?i)ǅ", "(?i)ß",
    "(?i:a)b", "a(?i)b|c", "(?i)a(?-i)b", "(?i-i)a",
    # anchors and assertions
    "^a", "a$", "^$", "(?m)^a$", "(?m)^", "(?s).+", ".+", r"\Aa", r"a\z", r"\bfoo\b", r"\Bo\B", "^*", r"\b*", "(?m)$*",
    # groups
    "(a)(b)", "(?:a)", "(?P<name>a)", "(?<name>a)", "(?P<n_1>a)(?P<n_2>b)?", "(?P<>a)", "(?P<a-b>a)", "(?P<a>a)(?P<a>b)",
    "(?P=name)", "(?P>name)", "(?=a)", "(?!a)", "(?<=a)", "(?<!a)", "(?#comment)", "(?i", "(?x)a", "(?U)a+", "(?U)a+?",
    "(?)", "(?-)", "(?i-)", "(?:", "(a", "a)", ")", "(?i)(?-s:.)", "((a))", "(a|)", "(|a)", "()",
    # alternation and repetition
    "a|b", "a|ab", "ab|a", "(a|ab)(c|bcd)", "a*", "a+", "a?", "a*?", "a+?", "a??", "a{2}", "a{2,}", "a{2,3}", "a{2,3}?",
    "a{,3}", "a{", "a{1", "a{1,", "a{x}", "a{1001}", "a{1000}", "a{2,1}", "a**", "a*+", "a++", "a?*", "*", "+a", "a|*",
    "(*)", "a{2}{3}", "a{2}*", "(a*)*", "(a*)+", "(a|b)*c", "x*", "(?:a+)+b", "(a{100}){100}", "((a{100}){100}){100}",
    "(a{10}){100}", "(a{11}){100}", "(a{2,}){500}", "(a{0}){1000}", "(a*){1000}", "((a{2}){2}){250}",
    # real-life shapes
    r"^(?P<scheme>https?)://(?P<host>[^/:]+)(?::(?P<port>\d+))?(?P<path>/[^?#]*)?",
    r"(?i)bearer\s+[a-z0-9._~+/-]+=*", r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", r"[\w.+-]+@[\w-]+\.[\w.]+",
    r"\b(?:\d[ -]*?){13,16}\b", r"(?i)(password|passwd|pwd|secret|token)\s*[:=]\s*\S+", r"^/api/v[0-9]+/.*",
    r".*(metrics|prometheus|health)(/.*)?$", r"AKIA[0-9A-Z]{16}", r"\d{3}-\d{2}-\d{4}",
]

TEXTS = ["", "a", "abc", "aaa", "ab", "abcd", "xAbC", "a\nb", "a.c", "café", "ΣσςΑ", "KkK s ſ", "日本語 text",
         "foo bar_baz 42", "user@example.com", "GET /api/v2/users?id=1", "Bearer eyJhbGciOi.eyJzdWIi.sig",
         "4111 1111 1111 1111", "password = hunter2", "https://host:8080/path?q", "--[]]-", "x**y", "\t \u00a0\u3000"]

REGEX_KEYS = {"pattern", "regex", "regexp", "blocked_values", "allowed_values", "ignored_key_patterns", "blocked_key_patterns"}


def collect(node, out, parent=None):
    """Strings under keys that hold regular expressions in the collector's components."""
    if isinstance(node, dict):
        regex_matching = node.get("match_type") == "regexp" or node.get("enabled_regex_matching") is True
        for k, v in node.items():
            holds = k in REGEX_KEYS or (regex_matching and k in {"services", "span_names", "values", "value", "resources", "libraries"})
            if holds and isinstance(v, str):
                out.add(v)
            elif holds and isinstance(v, list):
                out.update(x for x in v if isinstance(x, str))
            collect(v, out, k)
    elif isinstance(node, list):
        for x in node:
            collect(x, out, parent)


def config_patterns():
    found = set()
    dirs = [os.path.join(SHARED, "compat"), os.path.join(SHARED, "conformance"), os.path.join(ROOT, "pipelines")]
    for d in dirs:
        for base, _, files in os.walk(d):
            for f in sorted(files):
                if not f.endswith((".yaml", ".yml")):
                    continue
                try:
                    with open(os.path.join(base, f), encoding="utf-8") as fh:
                        for doc in yaml.safe_load_all(fh):
                            collect(doc, found)
                except Exception:
                    continue
    return sorted(p for p in found if "${" not in p)


def random_patterns(n, seed=0x5EED):
    rnd = random.Random(seed)
    atoms = ["a", "b", "c", ".", "[ab]", "[^a]", r"\d", r"\w", r"\s", "[a-c0-2]", "x", r"\.", r"\b", "-", "é", "σ", "[à-ü]",
             r"\pL", r"\p{Greek}", r"\PN", "[[:alpha:]]", "(?i:k)", "^", "$", r"\x{3a3}", "日"]
    quant = ["", "", "", "*", "+", "?", "{1,2}", "*?", "+?", "{2}", "??", "{0,}"]

    def pattern(depth):
        out = ""
        for _ in range(1 + rnd.randrange(3)):
            k = rnd.randrange(8 if depth > 2 else 11)
            if k == 8:
                atom = "(" + pattern(depth + 1) + ")"
            elif k == 9:
                atom = "(?:" + pattern(depth + 1) + "|" + pattern(depth + 1) + ")"
            elif k == 10:
                atom = "(?P<g%d>" % rnd.randrange(1000) + pattern(depth + 1) + ")"
            else:
                atom = rnd.choice(atoms)
            out += atom + rnd.choice(quant)
        return out

    pats = []
    for _ in range(n):
        p = pattern(0)
        r = rnd.randrange(10)
        if r == 0:
            p = "(?i)" + p
        elif r == 1:
            p = "(?s)" + p
        elif r == 2:
            p = "(?m)" + p
        pats.append(p)
    return pats


def random_texts(rnd, k):
    alphabet = list("aabbcx12 .-_\nAB£→éΣσςKkſ日本")
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(24))) for _ in range(k)]


def first_match(compiled, text):
    m = compiled.search(text)
    if m is None:
        return None
    return [m.group(i) for i in range(compiled.groups + 1)]


def main():
    rnd = random.Random(7)
    cases = []
    sources = [("syntax", SYNTAX), ("configs", config_patterns()), ("random", random_patterns(1500))]
    for source, patterns in sources:
        seen = set()
        for p in patterns:
            if p in seen:
                continue
            seen.add(p)
            case = {"source": source, "pattern": p}
            verdict = GO_DIFFERS.get(p)
            try:
                compiled = re2.compile(p)
                valid = True
            except Exception:
                compiled, valid = None, False
            if verdict is not None:
                case["go_differs"] = True
                valid = verdict == "valid"
            case["valid"] = valid
            if valid and compiled is not None and verdict is None:
                texts = TEXTS if source != "random" else random_texts(rnd, 6)
                case["matches"] = [{"text": t, "groups": first_match(compiled, t)} for t in texts]
            cases.append(case)
    out = os.path.join(ROOT, "Tests", "TracePipeTests", "Fixtures", "regex-cases.json")
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"generator": "scripts/gen-regex-cases.py", "re2": "google-re2 " + getattr(re2, "__version__", "?"),
                   "cases": cases}, fh, ensure_ascii=False, indent=0)
        fh.write("\n")
    print(f"{len(cases)} patterns, {sum(1 for c in cases if c['valid'])} valid -> {out}")


if __name__ == "__main__":
    main()
