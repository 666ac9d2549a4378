#!/usr/bin/env python3
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
