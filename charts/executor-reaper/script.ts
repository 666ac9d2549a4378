/**
 * The executor reaper: deletes finished executor pods. The middleware creates one pod per job and
 * never looks at it again, so Succeeded and Failed pods would otherwise stay until the controller
 * manager's terminated-pod GC (12500 terminated pods cluster-wide by default) removes them.
 *
 * What it is, independent of Kubernetes objects: a Python 3 script of our own (standard library
 * only, no kubectl) run by a CronJob in the app namespace with a ServiceAccount token whose only
 * grant is get, list and delete of pods in the executor namespace (charts/executor-reaper/executor-reaper.ts).
 */

/** Name of the CronJob, its ServiceAccount, ConfigMap and Role; app.kubernetes.io/name of its pods. */
export const REAPER_NAME = 'executor-reaper';

/** app.kubernetes.io/component of everything the reaper renders. */
export const REAPER_COMPONENT = 'executor-reaper';

/**
 * The image the script runs in: the official Python image (docker.io/library/, an allowed registry in
 * every environment), pinned to an exact release. Only the interpreter and its standard library are used.
 */
export const REAPER_IMAGE = { repository: 'docker.io/library/python', tag: '3.13.1-alpine' } as const;

/** UID and GID the script runs as (nobody; the image's files are world-readable). */
export const REAPER_USER = 65534;

/** Key of the script in the ConfigMap, and where it is mounted. */
export const REAPER_SCRIPT_KEY = 'reap.py';
export const REAPER_SCRIPT_DIR = '/script';

/**
 * The script. Environment (all optional except REAPER_NAMESPACE):
 *   REAPER_NAMESPACE        namespace whose finished pods are deleted
 *   REAPER_MIN_AGE_SECONDS  delete pods that finished more than this many seconds ago (default 600)
 *   REAPER_LABEL_SELECTOR   only pods with these labels (default: all pods of the namespace)
 *   REAPER_API_URL          API server URL (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
 *   REAPER_TOKEN            bearer token (default: REAPER_TOKEN_FILE, then the in-cluster ServiceAccount token)
 *   REAPER_TOKEN_FILE       file holding the bearer token
 *   REAPER_CA_FILE          CA bundle to trust (default: the in-cluster ServiceAccount ca.crt)
 * A pod's finish time is the latest finishedAt of its terminated containers; without one, its
 * startTime (or creationTimestamp) plus its activeDeadlineSeconds (0 if none). One log line per pod;
 * exit status 1 on any API error (a pod already gone or replaced is not an error).
 */
export const REAPER_SCRIPT = `#!/usr/bin/env python3
"""Deletes finished (Succeeded or Failed) pods of one namespace some time after they finished.

Rendered by charts/executor-reaper.ts from apps/executor-reaper.ts; standard library only.
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def log(message):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"{stamp} {message}", flush=True)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def api_url():
    url = os.environ.get("REAPER_API_URL")
    if url:
        return url.rstrip("/")
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise SystemExit("neither REAPER_API_URL nor KUBERNETES_SERVICE_HOST is set")
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}"


def bearer_token():
    given = os.environ.get("REAPER_TOKEN")
    if given:
        return given
    return read(os.environ.get("REAPER_TOKEN_FILE") or f"{SA_DIR}/token")


class Api:
    def __init__(self, url, bearer, ca_file):
        self.url = url
        self.bearer = bearer
        self.context = ssl.create_default_context(cafile=ca_file)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.bearer}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as res:
                return json.loads(res.read() or b"{}")
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                text = json.loads(text).get("message", text)
            except ValueError:
                pass
            raise ApiError(e.code, text) from None


def parse_time(value):
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def finished_at(pod):
    """When the pod finished, and how that was found."""
    status = pod.get("status") or {}
    ends = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for c in status.get(key) or []:
            t = parse_time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            if t is not None:
                ends.append(t)
    if ends:
        return max(ends), "finishedAt"
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds") or 0
    start = parse_time(status.get("startTime"))
    if start is not None:
        return start + deadline, "startTime+activeDeadlineSeconds"
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    return (created or time.time()) + deadline, "creationTimestamp+activeDeadlineSeconds"


def finished_pods(api, namespace, selector):
    for phase in ("Succeeded", "Failed"):
        cont = ""
        while True:
            query = {"fieldSelector": f"status.phase={phase}", "limit": "500"}
            if selector:
                query["labelSelector"] = selector
            if cont:
                query["continue"] = cont
            page = api.call("GET", f"/api/v1/namespaces/{namespace}/pods?{urllib.parse.urlencode(query)}")
            yield from page.get("items") or []
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                break


def main():
    namespace = os.environ.get("REAPER_NAMESPACE")
    if not namespace:
        raise SystemExit("REAPER_NAMESPACE is not set")
    min_age = int(os.environ.get("REAPER_MIN_AGE_SECONDS", "600"))
    if min_age < 0:
        raise SystemExit(f"REAPER_MIN_AGE_SECONDS ({min_age}) must not be negative")
    selector = os.environ.get("REAPER_LABEL_SELECTOR", "")
    try:
        api = Api(api_url(), bearer_token(), os.environ.get("REAPER_CA_FILE") or f"{SA_DIR}/ca.crt")
    except OSError as e:
        log(f"error reading the API credentials: {e}")
        return 1
    now = time.time()
    deleted = kept = errors = 0
    try:
        pods = list(finished_pods(api, namespace, selector))
    except (ApiError, OSError) as e:
        log(f"error listing finished pods in {namespace}: {e}")
        return 1
    for pod in pods:
        meta = pod.get("metadata") or {}
        name, uid = meta.get("name"), meta.get("uid")
        phase = (pod.get("status") or {}).get("phase")
        end, source = finished_at(pod)
        age = int(now - end)
        what = f"pod {namespace}/{name} phase={phase} finished {age}s ago ({source})"
        if meta.get("deletionTimestamp"):
            kept += 1
            log(f"kept {what}: already being deleted")
            continue
        if age <= min_age:
            kept += 1
            log(f"kept {what}: not older than {min_age}s")
            continue
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
        try:
            api.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/{urllib.parse.quote(name)}", body)
            deleted += 1
            log(f"deleted {what}")
        except ApiError as e:
            if e.status in (404, 409):
                kept += 1
                log(f"skipped {what}: gone or replaced ({e})")
            else:
                errors += 1
                log(f"error deleting {what}: {e}")
        except OSError as e:
            errors += 1
            log(f"error deleting {what}: {e}")
    log(f"done: {deleted} deleted, {kept} kept, {errors} errors (threshold {min_age}s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
`;
