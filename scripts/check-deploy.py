#!/usr/bin/env python3
"""Checks deploy/: every Kubernetes manifest against the Kubernetes API schemas
(kubernetes-validate, strict: unknown fields are errors), every tracepipe config embedded in a
ConfigMap with `tracepipe validate --config=<file>` (the form the Helm chart uses), and every
Helm values file's `config:` merged over the chart's default config (deploy/helm/
chart-default-config.yaml; a null removes a key, as Helm merges) the same way.
Usage: check-deploy.py <tracepipe binary>   (needs kubernetes-validate and PyYAML)
Exit 0 when all pass; prints one line per check."""
import os
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")


def merge(base, over):
    """Helm's merge of values over defaults: maps merge key by key, null deletes, else replace."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(base.get(k), v)
    return out


def validate_config(binary, text, label, failures):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        r = subprocess.run([binary, "validate", f"--config={path}"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MY_POD_IP="127.0.0.1"))
        ok = r.returncode == 0
        print(f"{'ok  ' if ok else 'FAIL'} tracepipe validate: {label}" + ("" if ok else f"\n{r.stdout}{r.stderr}"))
        if not ok:
            failures.append(label)
    finally:
        os.unlink(path)


def main():
    binary = sys.argv[1]
    failures = []
    manifests = sorted(os.path.join(DEPLOY, "kubernetes", f) for f in os.listdir(os.path.join(DEPLOY, "kubernetes")) if f.endswith(".yaml"))
    kv = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
    r = subprocess.run([kv, "--strict", "--quiet", *manifests], capture_output=True, text=True)
    print(f"{'ok  ' if r.returncode == 0 else 'FAIL'} kubernetes-validate --strict: {len(manifests)} files" + ("" if r.returncode == 0 else "\n" + r.stdout + r.stderr))
    if r.returncode != 0:
        failures.append("kubernetes-validate")
    configs = 0
    for path in manifests:
        for doc in yaml.safe_load_all(open(path)):
            if doc and doc.get("kind") == "ConfigMap":
                for key, text in (doc.get("data") or {}).items():
                    if key.endswith(".yaml"):
                        validate_config(binary, text, f"{os.path.basename(path)} ConfigMap {doc['metadata']['name']} {key}", failures)
                        configs += 1
    default = yaml.safe_load(open(os.path.join(DEPLOY, "helm", "chart-default-config.yaml")))
    for name in sorted(os.listdir(os.path.join(DEPLOY, "helm"))):
        if name.startswith("values-"):
            values = yaml.safe_load(open(os.path.join(DEPLOY, "helm", name)))
            if values.get("command", {}).get("name") != "tracepipe":
                failures.append(f"{name}: command.name is not tracepipe")
            validate_config(binary, yaml.safe_dump(merge(default, values.get("config") or {})), f"helm {name} (merged over the chart's default config)", failures)
            configs += 1
    if configs < 5:
        failures.append(f"only {configs} configs found")
    print("all deploy checks passed" if not failures else f"FAILED: {failures}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
