#!/usr/bin/env python3
"""Static validation of deploy/compose and deploy/k8s (no Docker engine, no cluster needed).

  check_deploy.py compose     docker-compose config (Debian's docker-compose v1), every file the compose file
                              and the Dockerfiles refer to exists, build packages match ./valerix
  check_deploy.py k8s         renders every kustomization (base, overlays/*, dev + each component) and checks
                              each object against a schema of the fields we use, plus cross-references
  check_deploy.py self-test   the k8s and Dockerfile checks must fail on deliberately broken copies

Options: --repo DIR (default: two folders up). Needs python3-yaml. Exit 1 on any problem (all are listed).
"""
import argparse, copy, os, re, shlex, shutil, subprocess, sys, tempfile

try:
    import yaml
except ImportError:
    sys.exit("check_deploy: python3-yaml is missing (./valerix deps installs it)")

# ----------------------------------------------------------------------------------------------------- compose

def dockerfile_copies(path):
    """(line number, instruction, sources) of every COPY/ADD without --from in a Dockerfile."""
    out, text = [], open(path).read().replace("\\\n", " ")
    for no, line in enumerate(text.splitlines(), 1):
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        out.append((no, words[0].upper(), args[:-1]))
    return out


def dockerfile_apt_packages(path, stage="build"):
    """Packages of `apt-get install` in the named stage."""
    text, pkgs, current = open(path).read().replace("\\\n", " "), [], None
    for line in text.splitlines():
        m = re.match(r"\s*FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = (m.group(1) or "").lower()
            continue
        if current == stage and "apt-get install" in line:
            seg = line.split("apt-get install", 1)[1].split("&&")[0]
            pkgs += [w for w in seg.split() if not w.startswith("-")]
    return pkgs


def valerix_packages(repo):
    text = open(os.path.join(repo, "valerix")).read()
    m = re.search(r"APT_PACKAGES=\((.*?)\n\)", text, re.S)
    body = "\n".join(l.split("#")[0] for l in m.group(1).splitlines())
    return set(body.split())


def check_dockerfiles(repo, dockerfiles, problems):
    known = valerix_packages(repo)
    for df in dockerfiles:
        rel = os.path.relpath(df, repo)
        copies = dockerfile_copies(df)
        if not copies:
            problems.append(f"{rel}: no COPY at all (wrong parser or wrong file?)")
        for no, instr, sources in copies:
            for src in sources:
                if not os.path.exists(os.path.join(repo, src)):
                    problems.append(f"{rel}:{no}: {instr} source {src!r} does not exist in the build context (repo root)")
        text = open(df).read()
        if "HEALTHCHECK" not in text:
            problems.append(f"{rel}: no HEALTHCHECK")
        service = os.path.basename(df).removesuffix(".Dockerfile")
        if f"{service}-service" in ASKS_OTHER_SERVICES or service in ASKS_OTHER_SERVICES:
            # As for k8s readiness: "unhealthy" would say the process is broken while only another service is down.
            check = re.search(r"^HEALTHCHECK\b.*?(?<!\\)$", text, re.M | re.S)
            if check and "/ready" not in check.group(0):
                problems.append(f"{rel}: HEALTHCHECK must GET /ready (its /health asks other services)")
        users = re.findall(r"^USER\s+(\S+)", text, re.M)
        if not users or users[-1] in ("root", "0"):
            problems.append(f"{rel}: the final stage must run as a non-root USER")
        if re.search(r"(PASSWORD|TOKEN|PASSPHRASE|cipher-pass)\s*=\s*\S", text.replace("@REPO1_CIPHER_PASS@", "")):
            problems.append(f"{rel}: looks like a secret value baked into the image")
        for pkg in dockerfile_apt_packages(df):
            if pkg not in known:
                problems.append(f"{rel}: build stage installs {pkg!r}, which ./valerix (APT_PACKAGES) does not")
        if re.search(r"apt-get install(?![^\n]*--no-install-recommends)", text.replace("\\\n", " ")):
            problems.append(f"{rel}: apt-get install without --no-install-recommends")


def check_compose(repo, problems):
    cdir = os.path.join(repo, "deploy", "compose")
    cfile = os.path.join(cdir, "docker-compose.yml")
    exe = shutil.which("docker-compose")
    with tempfile.TemporaryDirectory() as tmp:
        secrets = os.path.join(tmp, "secrets")
        subprocess.run([os.path.join(cdir, "make-secrets.sh"), secrets], check=True, stdout=subprocess.DEVNULL)
        env = dict(os.environ, VALERIX_SECRETS_DIR=secrets)
        if not exe:
            problems.append("docker-compose not found (./valerix deps installs Debian's docker-compose)")
            config = None
        else:
            r = subprocess.run([exe, "-f", cfile, "config", "-q"], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"docker-compose config -q failed:\n{r.stderr}")
            r = subprocess.run([exe, "-f", cfile, "config"], env=env, capture_output=True, text=True)
            config = yaml.safe_load(r.stdout) if r.returncode == 0 else None
        raw = yaml.safe_load(open(cfile))
        services = (config or raw)["services"]
        # Every secret file (made by make-secrets.sh) exists; every secret a service uses is declared.
        for name, spec in (config or {}).get("secrets", {}).items():
            if not os.path.isfile(spec["file"]):
                problems.append(f"compose secret {name}: {spec['file']} is not made by make-secrets.sh")
        declared = set(raw.get("secrets", {}))
        dockerfiles = []
        for svc, spec in services.items():
            for s in spec.get("secrets", []):
                s = s["source"] if isinstance(s, dict) else s
                if s not in declared:
                    problems.append(f"compose service {svc}: secret {s} is not declared")
            for key, value in (spec.get("environment") or {}).items():
                if re.search(r"(PASSWORD|TOKEN|PASSPHRASE|PASS)$", key) and value:
                    problems.append(f"compose service {svc}: {key} carries a secret value; use a *_FILE secret")
            if "build" in spec:
                b = raw["services"][svc]["build"]
                ctx = os.path.normpath(os.path.join(cdir, b["context"]))
                df = os.path.join(ctx, b["dockerfile"])
                if ctx != os.path.normpath(repo):
                    problems.append(f"compose service {svc}: build context {ctx} is not the repository root")
                if not os.path.isfile(df):
                    problems.append(f"compose service {svc}: Dockerfile {df} does not exist")
                else:
                    dockerfiles.append(df)
            for vol in raw["services"][svc].get("volumes", []):
                src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
                if src.startswith((".", "/")):
                    if not os.path.exists(os.path.normpath(os.path.join(cdir, src))):
                        problems.append(f"compose service {svc}: bind-mount source {src} does not exist")
                elif src not in raw.get("volumes", {}):
                    problems.append(f"compose service {svc}: volume {src} is not declared")
            for dep, cond in (spec.get("depends_on") or {}).items() if isinstance(spec.get("depends_on"), dict) else []:
                if cond.get("condition") == "service_healthy":
                    has = "healthcheck" in raw["services"][dep] or "build" in raw["services"][dep] \
                          or raw["services"][dep].get("image", "").startswith("valerix/")
                    if not has:
                        problems.append(f"compose service {svc}: waits for {dep} healthy, which has no health check")
            if not spec.get("restart"):
                problems.append(f"compose service {svc}: no restart policy")
        for v in ("order-data", "inventory-data", "backup-storage"):
            if v not in raw.get("volumes", {}):
                problems.append(f"compose: named volume {v} is missing")
        check_dockerfiles(repo, sorted(set(dockerfiles)), problems)
        # Files the images and the Prometheus/Grafana mounts rely on.
        prom = yaml.safe_load(open(os.path.join(repo, "deploy/prometheus/prometheus.compose.yml")))
        for job in prom["scrape_configs"]:
            for t in job["static_configs"][0]["targets"]:
                host = t.split(":")[0]
                if host not in services:
                    problems.append(f"prometheus.compose.yml job {job['job_name']}: target host {host} is no compose service")

# ----------------------------------------------------------------------------------------------------- k8s

S, I, B, L, M, ANY = str, int, bool, list, dict, object
# Schema of the fields these manifests use: {key: type or nested schema}; "!" marks required keys. Keys not
# listed are errors (that is what catches typos like `readinesProbe`), except under free-form maps (M).
META = {"!name": S, "namespace": S, "labels": M, "annotations": M}
SELECTOR = {"!matchLabels": M}
PROBE = {"httpGet": {"!path": S, "!port": (S, I), "scheme": S}, "initialDelaySeconds": I, "periodSeconds": I,
         "timeoutSeconds": I, "failureThreshold": I, "successThreshold": I}
RES = {"requests": M, "limits": M}
CONTAINER = {"!name": S, "!image": S, "ports": [{"!containerPort": I, "name": S, "protocol": S}],
             "env": [{"!name": S, "value": S}], "envFrom": [{"configMapRef": {"!name": S}, "secretRef": {"!name": S}}],
             "readinessProbe": PROBE, "livenessProbe": PROBE, "startupProbe": PROBE, "resources": RES,
             "securityContext": {"allowPrivilegeEscalation": B, "readOnlyRootFilesystem": B, "capabilities": M,
                                 "runAsNonRoot": B, "runAsUser": I},
             "volumeMounts": [{"!name": S, "!mountPath": S, "readOnly": B, "subPath": S}], "args": [S], "command": [S]}
VOLUME = {"!name": S, "secret": {"!secretName": S, "items": [{"!key": S, "!path": S}], "defaultMode": I},
          "configMap": {"!name": S, "items": L}, "emptyDir": {"medium": S, "sizeLimit": S},
          "persistentVolumeClaim": {"!claimName": S, "readOnly": B}}
POD = {"!containers": [CONTAINER], "volumes": [VOLUME], "securityContext": M, "terminationGracePeriodSeconds": I,
       "topologySpreadConstraints": [{"!maxSkew": I, "!topologyKey": S, "!whenUnsatisfiable": S, "labelSelector": SELECTOR}],
       "serviceAccountName": S, "affinity": M, "nodeSelector": M, "tolerations": L}
SCHEMAS = {
    ("v1", "Namespace"): {"metadata": META},
    ("v1", "ConfigMap"): {"metadata": META, "data": M},
    ("v1", "Secret"): {"metadata": META, "data": M, "stringData": M, "type": S},
    ("v1", "Service"): {"metadata": META, "!spec": {"!selector": M, "type": S, "!ports": [
        {"!port": I, "name": S, "targetPort": (S, I), "protocol": S}]}},
    ("v1", "PersistentVolumeClaim"): {"metadata": META, "!spec": {"!accessModes": [S], "!resources": {"!requests": M},
                                                                    "storageClassName": S}},
    ("apps/v1", "Deployment"): {"metadata": META, "!spec": {
        "replicas": I, "revisionHistoryLimit": I, "!selector": SELECTOR,
        "strategy": {"!type": S, "rollingUpdate": {"maxUnavailable": (S, I), "maxSurge": (S, I)}},
        "!template": {"!metadata": {"!labels": M, "annotations": M}, "!spec": POD}}},
    ("autoscaling/v2", "HorizontalPodAutoscaler"): {"metadata": META, "!spec": {
        "!scaleTargetRef": {"!apiVersion": S, "!kind": S, "!name": S}, "minReplicas": I, "!maxReplicas": I,
        "metrics": L, "behavior": M}},
    ("policy/v1", "PodDisruptionBudget"): {"metadata": META, "!spec": {"minAvailable": (S, I),
                                                                         "maxUnavailable": (S, I), "!selector": SELECTOR}},
    ("networking.k8s.io/v1", "Ingress"): {"metadata": META, "!spec": {"ingressClassName": S, "tls": L, "!rules": L}},
    ("postgresql.cnpg.io/v1", "Cluster"): {"metadata": META, "!spec": {
        "!instances": I, "imageName": S, "primaryUpdateStrategy": S,
        "bootstrap": {"initdb": {"!database": S, "!owner": S, "secret": M}}, "postgresql": {
            "parameters": M, "synchronous": {"!method": S, "!number": I, "dataDurability": S}},
        "!storage": {"!size": S, "storageClass": S}, "monitoring": M, "resources": RES, "backup": {
            "retentionPolicy": S, "barmanObjectStore": {"!destinationPath": S, "s3Credentials": M, "wal": M, "data": M}}}},
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): {"metadata": META, "!spec": {
        "!schedule": S, "backupOwnerReference": S, "immediate": B, "!cluster": {"!name": S}}},
}


def check_schema(obj, schema, path, problems):
    if isinstance(schema, tuple) or schema in (S, I, B, L, M, ANY):
        types = schema if isinstance(schema, tuple) else (schema,)
        if ANY in types:
            return
        ok = any(isinstance(obj, t) and not (t is I and isinstance(obj, bool)) for t in types)
        if not ok:
            problems.append(f"{path}: expected {'/'.join(t.__name__ for t in types)}, got {type(obj).__name__}")
        return
    if isinstance(schema, list):
        if not isinstance(obj, list):
            problems.append(f"{path}: expected a list")
            return
        for i, item in enumerate(obj):
            check_schema(item, schema[0], f"{path}[{i}]", problems)
        return
    if not isinstance(obj, dict):
        problems.append(f"{path}: expected a mapping")
        return
    keys = {k.lstrip("!"): k.startswith("!") for k in schema}
    for k, required in keys.items():
        if required and k not in obj:
            problems.append(f"{path}: required field {k!r} is missing")
    for k, v in obj.items():
        if k not in keys:
            problems.append(f"{path}: unknown field {k!r}")
            continue
        check_schema(v, schema["!" + k] if "!" + k in schema else schema[k], f"{path}.{k}", problems)


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def merge(base, patch):
    """Strategic-merge-like: maps merge, a null value deletes its key, lists of named maps merge by name, other
    values replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(base[k], v) if k in base else v
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(x, dict) and "name" in x for x in base + patch):
        out = [dict(x) for x in base]
        for item in patch:
            hit = [i for i, x in enumerate(out) if x["name"] == item["name"]]
            if hit:
                out[hit[0]] = merge(out[hit[0]], item)
            else:
                out.append(item)
        return out
    return patch


def key(o):
    return (o.get("kind"), o.get("metadata", {}).get("name"))


def render(dirpath, problems, extra_components=()):
    """A small kustomize: resources, components, patches, namespace, labels, images, secret/configMap generators."""
    kfile = os.path.join(dirpath, "kustomization.yaml")
    if not os.path.isfile(kfile):
        problems.append(f"{dirpath}: no kustomization.yaml")
        return []
    k = yaml.safe_load(open(kfile))
    known = {"apiVersion", "kind", "resources", "components", "patches", "namespace", "labels", "images",
             "secretGenerator", "configMapGenerator", "generatorOptions"}
    for f in set(k) - known:
        problems.append(f"{kfile}: field {f!r} is not supported by this check (or a typo)")
    objs = []
    for res in k.get("resources", []):
        p = os.path.normpath(os.path.join(dirpath, res))
        if os.path.isdir(p):
            objs += render(p, problems)
        elif os.path.isfile(p):
            objs += load_docs(p)
        else:
            problems.append(f"{kfile}: resource {res} does not exist")
    for comp in list(k.get("components", [])) + [os.path.relpath(c, dirpath) for c in extra_components]:
        p = os.path.normpath(os.path.join(dirpath, comp))
        ck = yaml.safe_load(open(os.path.join(p, "kustomization.yaml")))
        if ck.get("kind") != "Component":
            problems.append(f"{p}: a component must have kind Component")
        objs = apply(p, ck, objs, problems)
    for gen, kind in (("secretGenerator", "Secret"), ("configMapGenerator", "ConfigMap")):
        for g in k.get(gen, []):
            data = dict(l.split("=", 1) for l in g.get("literals", []))
            objs.append({"apiVersion": "v1", "kind": kind, "metadata": {"name": g["name"]}, "stringData" if kind == "Secret" else "data": data})
    objs = apply(dirpath, {**k, "resources": [], "components": []}, objs, problems)
    return objs


def apply(dirpath, k, objs, problems):
    for res in k.get("resources", []):
        objs = objs + load_docs(os.path.join(dirpath, res))
    for patch in k.get("patches", []):
        for p in load_docs(os.path.join(dirpath, patch["path"])):
            hits = [i for i, o in enumerate(objs) if key(o) == key(p)]
            if not hits:
                problems.append(f"{dirpath}/{patch['path']}: patch target {key(p)} not found")
            for i in hits:
                objs[i] = merge(objs[i], p)
    if "namespace" in k:
        for o in objs:
            if o.get("kind") != "Namespace":
                o.setdefault("metadata", {})["namespace"] = k["namespace"]
    for lab in k.get("labels", []):
        for o in objs:
            o.setdefault("metadata", {}).setdefault("labels", {}).update(lab["pairs"])
    for img in k.get("images", []):
        for o in objs:
            for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                if c.get("image", "").split(":")[0] == img["name"]:
                    c["image"] = img.get("newName", img["name"]) + ":" + str(img.get("newTag", "latest"))
    return objs


# Deployments whose /health asks other services (see DESIGN.md: every /health is deep).
ASKS_OTHER_SERVICES = {"order-service", "web"}


def check_objects(name, objs, problems, external_secrets):
    seen = {}
    for o in objs:
        ident = f"{name}: {o.get('kind')}/{o.get('metadata', {}).get('name')}"
        schema = SCHEMAS.get((o.get("apiVersion"), o.get("kind")))
        if schema is None:
            problems.append(f"{ident}: unknown apiVersion/kind {o.get('apiVersion')}/{o.get('kind')}")
            continue
        check_schema({k: v for k, v in o.items() if k not in ("apiVersion", "kind")}, schema, ident, problems)
        if key(o) in seen:
            problems.append(f"{ident}: defined twice")
        seen[key(o)] = o
    by_kind = lambda kind: [o for o in objs if o.get("kind") == kind]
    configmaps = {o["metadata"]["name"] for o in by_kind("ConfigMap")}
    secrets = {o["metadata"]["name"] for o in by_kind("Secret")} | external_secrets
    for c in by_kind("Cluster"):  # CloudNativePG makes <cluster>-app for the owner
        secrets.add(c["metadata"]["name"] + "-app")
        spec = c.get("spec") or {}
        instances = spec.get("instances", 1)
        sync = (spec.get("postgresql") or {}).get("synchronous")
        ident = f"{name}: Cluster/{c['metadata']['name']}"
        if not isinstance(instances, int) or not isinstance(sync, (dict, type(None))):
            continue  # the schema check has reported it
        if instances > 1 and (sync is None or sync.get("dataDurability", "required") != "required"):
            problems.append(f"{ident}: {instances} instances without required synchronous replication "
                            "(postgresql.synchronous, dataDurability required): a failover would lose commits whose "
                            "answers clients already hold")
        if sync is not None and not (sync.get("method") in ("any", "first") and isinstance(sync.get("number"), int)
                                     and 1 <= sync["number"] < instances):
            problems.append(f"{ident}: postgresql.synchronous needs method any or first and 1 <= number < instances "
                            f"({sync.get('method')}, {sync.get('number')}, {instances})")
    pvcs = {o["metadata"]["name"] for o in by_kind("PersistentVolumeClaim")}
    deployments = {o["metadata"]["name"]: o for o in by_kind("Deployment")}
    for d in deployments.values():
        ident = f"{name}: Deployment/{d['metadata']['name']}"
        try:
            sel = d["spec"]["selector"]["matchLabels"]
            tmpl = d["spec"]["template"]
            labels = tmpl["metadata"]["labels"]
            pod = tmpl["spec"]
        except (KeyError, TypeError):
            continue
        if any(labels.get(k) != v for k, v in sel.items()):
            problems.append(f"{ident}: selector {sel} does not match the pod labels {labels}")
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        ann = tmpl["metadata"].get("annotations", {})
        ports_all = []
        for c in pod["containers"]:
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            ports_all += list(ports.values())
            # Readiness never waits for another service: order-service answers 202 while inventory is down, and
            # the gateway's control room shows the outage. Their /health asks other services, so they use /ready.
            ready = "/ready" if d["metadata"]["name"] in ASKS_OTHER_SERVICES else "/health"
            for probe, path in (("readinessProbe", ready), ("livenessProbe", "/live")):
                pr = c.get(probe)
                if not pr:
                    problems.append(f"{ident}: container {c['name']} has no {probe}")
                    continue
                if pr.get("httpGet", {}).get("path") != path:
                    problems.append(f"{ident}: {probe} must GET {path}")
                port = pr.get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    problems.append(f"{ident}: {probe} port {port!r} is not a named container port")
            if not c.get("resources", {}).get("requests"):
                problems.append(f"{ident}: container {c['name']} has no resource requests")
            for ef in c.get("envFrom", []):
                if "configMapRef" in ef and ef["configMapRef"]["name"] not in configmaps:
                    problems.append(f"{ident}: ConfigMap {ef['configMapRef']['name']} is not defined")
            for vm in c.get("volumeMounts", []):
                if vm["name"] not in vols:
                    problems.append(f"{ident}: volumeMount {vm['name']} has no volume")
        for v in vols.values():
            if "secret" in v and v["secret"]["secretName"] not in secrets:
                problems.append(f"{ident}: Secret {v['secret']['secretName']} is neither defined nor a documented external one")
            if "configMap" in v and v["configMap"]["name"] not in configmaps:
                problems.append(f"{ident}: ConfigMap {v['configMap']['name']} is not defined")
            if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in pvcs:
                problems.append(f"{ident}: PVC {v['persistentVolumeClaim']['claimName']} is not defined")
        if ann.get("prometheus.io/scrape") == "true" and int(ann.get("prometheus.io/port", 0)) not in ports_all:
            problems.append(f"{ident}: prometheus.io/port {ann.get('prometheus.io/port')} is no container port")
    for s in by_kind("Service"):
        ident = f"{name}: Service/{s['metadata']['name']}"
        sel = s.get("spec", {}).get("selector", {})
        targets = [d for d in deployments.values()
                   if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
        if not targets:
            problems.append(f"{ident}: selector {sel} matches no Deployment")
        for p in s.get("spec", {}).get("ports", []):
            tp = p.get("targetPort")
            for d in targets:
                names = {cp.get("name") for c in d["spec"]["template"]["spec"]["containers"] for cp in c.get("ports", [])}
                if isinstance(tp, str) and tp not in names:
                    problems.append(f"{ident}: targetPort {tp!r} is not a port name of Deployment/{d['metadata']['name']}")
    for h in by_kind("HorizontalPodAutoscaler"):
        t = h.get("spec", {}).get("scaleTargetRef", {})
        if t.get("kind") != "Deployment" or t.get("name") not in deployments:
            problems.append(f"{name}: HorizontalPodAutoscaler/{h['metadata']['name']}: target {t} does not exist")
    for p in by_kind("PodDisruptionBudget"):
        sel = p.get("spec", {}).get("selector", {}).get("matchLabels", {})
        if not any(all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items()) for d in deployments.values()):
            problems.append(f"{name}: PodDisruptionBudget/{p['metadata']['name']} selects no Deployment")
    for b in by_kind("ScheduledBackup"):
        if b.get("spec", {}).get("cluster", {}).get("name") not in {c["metadata"]["name"] for c in by_kind("Cluster")}:
            problems.append(f"{name}: ScheduledBackup/{b['metadata']['name']}: no such Cluster")
    for o in by_kind("Deployment"):
        if o["metadata"]["name"] == "backup-service":
            if o["spec"].get("replicas") != 1 or o["spec"].get("strategy", {}).get("type") != "Recreate":
                problems.append(f"{name}: backup-service must have 1 replica and the Recreate strategy")


# Secrets the overlays expect to be made outside git (documented in deploy/k8s/README.md).
EXTERNAL_SECRETS = {"valerix-admin", "valerix-backup", "valerix-backup-tls", "valerix-backup-s3", "valerix-tls"}


def check_k8s(root, problems):
    k8s = os.path.join(root, "deploy", "k8s")
    targets = [("base", os.path.join(k8s, "base"), ())]
    for d in sorted(os.listdir(os.path.join(k8s, "overlays"))):
        targets.append((f"overlays/{d}", os.path.join(k8s, "overlays", d), ()))
    for d in sorted(os.listdir(os.path.join(k8s, "components"))):
        targets.append((f"overlays/dev+components/{d}", os.path.join(k8s, "overlays", "dev"),
                        (os.path.join(k8s, "components", d),)))
    for name, path, comps in targets:
        objs = render(path, problems, comps)
        if not objs:
            problems.append(f"{name}: renders no object")
        check_objects(name, objs, problems, EXTERNAL_SECRETS)
        kinds = {o.get("kind") for o in objs}
        for needed in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Cluster"):
            if needed not in kinds:
                problems.append(f"{name}: has no {needed}")
        print(f"{name}: {len(objs)} objects")

# ----------------------------------------------------------------------------------------------------- self-test

def self_test(repo):
    """Each mutation of a copy of deploy/ (plus what the checks read) must produce a problem."""
    mutations = [
        ("deploy/k8s/base/order.yaml", "readinessProbe:", "readinesProbe:"),
        ("deploy/k8s/base/web.yaml", "httpGet: {path: /ready, port: http}", "httpGet: {path: /health, port: http}"),
        ("deploy/k8s/base/order.yaml", "httpGet: {path: /ready, port: http}", "httpGet: {path: /health, port: http}"),
        ("deploy/k8s/base/order.yaml", "containerPort: 3001", "containerPort: \"3001\""),
        ("deploy/k8s/base/order.yaml", "port: 3001, targetPort: http", "port: 3001, targetPort: web"),
        ("deploy/k8s/base/web.yaml", "matchLabels: {app.kubernetes.io/name: web}", "matchLabels: {app.kubernetes.io/name: webb}"),
        ("deploy/k8s/base/order.yaml", "secretName: order-db-app", "secretName: order-db-secret"),
        ("deploy/k8s/base/kustomization.yaml", "  - web.yaml\n", "  - web.yaml\n  - missing.yaml\n"),
        ("deploy/compose/order.Dockerfile", "COPY libs/ libs/", "COPY libz/ libs/"),
        ("deploy/compose/web.Dockerfile", "USER valerix", "USER root"),
        ("deploy/compose/order.Dockerfile", "/ready", "/health"),
        ("deploy/compose/web.Dockerfile", "/ready", "/health"),
        ("deploy/k8s/base/postgres.yaml", "dataDurability: required", "dataDurability: preferred"),
        ("deploy/k8s/overlays/dev/small.yaml", "synchronous: null", "synchronous: {}"),
    ]
    failures = 0
    for path, old, new in mutations:
        with tempfile.TemporaryDirectory() as tmp:
            for d in ("deploy", "libs", "cmake", "services", "tests", "tools", "scenarios", "web"):
                src = os.path.join(repo, d)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(tmp, d), symlinks=True,
                                    ignore=shutil.ignore_patterns("node_modules", "dist"))
            for f in ("CMakeLists.txt", "valerix"):
                shutil.copy(os.path.join(repo, f), tmp)
            os.makedirs(os.path.join(tmp, "web", "dist"), exist_ok=True)
            target = os.path.join(tmp, path)
            text = open(target).read()
            if old not in text:
                print(f"self-test: {path} no longer contains {old!r}: update the mutation")
                failures += 1
                continue
            open(target, "w").write(text.replace(old, new, 1))
            problems = []
            if path.startswith("deploy/k8s"):
                check_k8s(tmp, problems)
            else:
                check_dockerfiles(tmp, [target], problems)
            print(f"self-test: {path}: {old!r} -> {new!r}: {len(problems)} problem(s)" + (f", e.g. {problems[0]}" if problems else ""))
            if not problems:
                failures += 1
    print(f"{len(mutations) - failures} passed, {failures} failed")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["compose", "k8s", "self-test"])
    ap.add_argument("--repo", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
    args = ap.parse_args()
    if args.what == "self-test":
        return 1 if self_test(args.repo) else 0
    problems = []
    (check_compose if args.what == "compose" else check_k8s)(args.repo, problems)
    for p in problems:
        print("PROBLEM:", p)
    print(f"{args.what}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
