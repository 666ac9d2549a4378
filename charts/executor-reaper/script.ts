/**
 * The executor reaper: deletes finished executor pods. The middleware creates one pod per job and
 * never looks at it again, so Succeeded and Failed pods would otherwise stay until the controller
 * manager's terminated-pod GC (12500 terminated pods cluster-wide by default) removes them.
 *
 * What it is, independent of Kubernetes objects: a Python 3 script of our own (standard library
 * only, no kubectl) run by a CronJob in the app namespace with a ServiceAccount token whose only
 * grant is get, list and delete of pods in the executor namespace (charts/executor-reaper/executor-reaper.ts).
 * The script is charts/executor-reaper/reap.py, imported as text (src/commands/text-files.ts) and
 * rendered into the ConfigMap byte for byte; npm run lint:py checks it (tools/lint-python.sh).
 */
import script from './reap.py';

/** Name of the CronJob, its ServiceAccount, ConfigMap and Role; app.kubernetes.io/name of its pods. */
export const REAPER_NAME = 'executor-reaper';

/** app.kubernetes.io/component of everything the reaper renders. */
export const REAPER_COMPONENT = 'executor-reaper';

/** UID and GID the script runs as (nobody; the image's files are world-readable). */
export const REAPER_USER = 65534;

/** Key of the script in the ConfigMap, and where it is mounted. */
export const REAPER_SCRIPT_KEY = 'reap.py';
export const REAPER_SCRIPT_DIR = '/script';

/**
 * The script: the contents of charts/executor-reaper/reap.py. Environment (all optional except
 * REAPER_NAMESPACE):
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
export const REAPER_SCRIPT: string = embeddedScript(script);

/** The imported script, or an error naming the file when the import did not give its text. */
export function embeddedScript(text: unknown): string {
  if (typeof text !== 'string' || !text.startsWith('#!/usr/bin/env python3\n') || !text.endsWith('\n')) {
    const got = typeof text === 'string' ? `${JSON.stringify(text.slice(0, 40))}…` : typeof text;
    throw new Error(
      `${REAPER_NAME}: charts/executor-reaper/reap.py must be imported as text (src/commands/text-files.ts) starting with '#!/usr/bin/env python3' and ending with a newline; got ${got}`,
    );
  }
  return text;
}
