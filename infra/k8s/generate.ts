/**
 * `npm run k8s:generate`: writes the Kubernetes manifests of infra/k8s/*.yaml from the objects below
 * (kubernetes-models and @kubernetes-models/keda: every object is validated against the API's schema as
 * it is built). The YAML is committed; test/deploy/k8s.test.ts regenerates it and compares byte for byte.
 *
 * What it describes (README, "Deploying"): the gateway (Deployment, Service, Ingress, PodDisruptionBudget)
 * and one Deployment per stage (from queues/names.ts) with its PodDisruptionBudget and a KEDA ScaledObject
 * on the backlog of its queue; one ConfigMap for the settings that are not secret; secrets as files from
 * the Secret `arp-secrets` (`<NAME>_FILE`, shared/secret-files.ts), each program mounting only the keys it
 * uses (infra/process-model.ts derives them from the start-up checks).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service, type IContainer, type IPodSpec, type IProbe } from 'kubernetes-models/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { stringify } from 'yaml';
import type { QueueName } from '../../queues/names.ts';
import { programCommand, STAGES, secretRequirements, type Program } from '../process-model.ts';
import { DETAIL_CONCURRENCY, GATEWAY, STAGE_SIZING, type Size } from './sizing.ts';

export const APP = 'agent-research-pay';
/** The image, as kustomization.yaml names it (`images:` sets the registry and the tag: CI pushes ghcr.io/<owner>/<repo>:<commit>). */
export const IMAGE = 'agent-research-pay';
export const CONFIG_MAP = 'arp-config';
export const SECRET = 'arp-secrets';
/** Where the secret files are mounted; `<NAME>_FILE` points at `${SECRET_DIR}/<NAME>`. */
export const SECRET_DIR = '/var/run/secrets/arp';
export const GATEWAY_PORT = 8000;
export const WORKER_HTTP_PORT = 9464;
export const QUEUE_PREFIX = 'arp';
export const SHUTDOWN_TIMEOUT_MS = 4_000;
/** The gateway sleeps this long before SIGTERM, so the Service stops sending it requests first. */
export const GATEWAY_PRE_STOP_SECONDS = 5;
/** onShutdown exits by force SHUTDOWN_TIMEOUT_MS + 1 s after SIGTERM (apps/runtime/signals.ts); a margin on top. */
const HARD_EXIT_MS = 1_000;
const GRACE_MARGIN_S = 5;

/** The ConfigMap: every setting that is not a secret. Secrets are files (below). */
export const CONFIG: Record<string, string> = {
  NODE_ENV: 'production',
  QUEUE_PREFIX,
  // Where the providers are: replace with yours (a kustomize patch of this ConfigMap).
  MARKETPLACE_URL: 'https://marketplace.example.com',
  TOKEN_ISSUER_URL: 'https://issuer.example.com',
  VOICEID_URL: 'https://voiceid.example.com',
  OPENAI_MODEL: 'gpt-4o-mini',
  LOG_FORMAT: 'json',
  LOG_LEVEL: 'info',
  // The ingress controller's pods: their X-Forwarded-For names the client (the failed-login throttle).
  TRUSTED_PROXIES: '10.0.0.0/8',
  SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  WORKER_CONCURRENCY: '4',
  DETAIL_CONCURRENCY: String(DETAIL_CONCURRENCY),
};

const labels = (component: string) => ({ 'app.kubernetes.io/name': APP, 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': APP });
const selector = (component: string) => ({ 'app.kubernetes.io/name': APP, 'app.kubernetes.io/component': component });

/** Grace before the kubelet kills a pod: longer than what the process takes to stop (plus a margin). */
export function terminationGraceSeconds(preStopSeconds: number): number {
  return preStopSeconds + Math.ceil((SHUTDOWN_TIMEOUT_MS + HARD_EXIT_MS) / 1000) + GRACE_MARGIN_S;
}

const probe = (path: string, port: string, periodSeconds: number, failureThreshold: number, timeoutSeconds: number): IProbe => ({
  httpGet: { path, port },
  periodSeconds,
  failureThreshold,
  timeoutSeconds,
});

/** A program's container and pod: probes on its HTTP port, secrets as files, hardened. */
function podSpec(program: Program, component: string, args: string[], env: Record<string, string>, port: { name: string; number: number }, size: Size, preStopSeconds: number): IPodSpec {
  const secrets = secretRequirements(program);
  const container: IContainer = {
    name: component,
    image: IMAGE,
    imagePullPolicy: 'IfNotPresent',
    // The compiled program, one process: SIGTERM reaches it, and it stops within SHUTDOWN_TIMEOUT_MS.
    command: programCommand(program, args),
    envFrom: [{ configMapRef: { name: CONFIG_MAP } }],
    env: [
      ...Object.entries(env).map(([name, value]) => ({ name, value })),
      ...secrets.map((name) => ({ name: `${name}_FILE`, value: `${SECRET_DIR}/${name}` })),
    ],
    ports: [{ name: port.name, containerPort: port.number, protocol: 'TCP' }],
    // Connecting and migrating can take a few seconds on a busy node: liveness waits for the first answer.
    startupProbe: probe('/healthz', port.name, 2, 30, 2),
    livenessProbe: probe('/healthz', port.name, 10, 3, 2),
    // /readyz asks Redis and Postgres (2 s each at most) and says 503 once the process is stopping.
    readinessProbe: probe('/readyz', port.name, 5, 2, 3),
    resources: size,
    volumeMounts: [
      { name: 'secrets', mountPath: SECRET_DIR, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    ...(preStopSeconds > 0 ? { lifecycle: { preStop: { exec: { command: ['sleep', String(preStopSeconds)] } } } } : {}),
  };
  return {
    terminationGracePeriodSeconds: terminationGraceSeconds(preStopSeconds),
    // The image's user `node` (uid 1000); the secret files are readable by its group only.
    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    automountServiceAccountToken: false,
    containers: [container],
    volumes: [
      { name: 'secrets', secret: { secretName: SECRET, defaultMode: 0o440, items: secrets.map((key) => ({ key, path: key })) } },
      { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    ],
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector(component) } }],
  };
}

function deployment(name: string, component: string, spec: IPodSpec, replicas: number | undefined, annotations: Record<string, string> = {}): Deployment {
  return new Deployment({
    metadata: { name, labels: labels(component) },
    spec: {
      // Stages leave replicas to KEDA (a value here would undo its scaling on every apply).
      ...(replicas === undefined ? {} : { replicas }),
      revisionHistoryLimit: 5,
      selector: { matchLabels: selector(component) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: { metadata: { labels: labels(component), ...(Object.keys(annotations).length ? { annotations } : {}) }, spec },
    },
  });
}

/** Voluntary disruptions (drains, upgrades) take one pod at a time, whatever the replica count. */
const pdb = (name: string, component: string) =>
  new PodDisruptionBudget({ metadata: { name, labels: labels(component) }, spec: { maxUnavailable: 1, selector: { matchLabels: selector(component) } } });

/** The BullMQ list of a queue's waiting jobs (bullmq 6: `<prefix>:<queue>:wait`, classes/queue-keys.js). */
export const waitListKey = (queue: QueueName, prefix = QUEUE_PREFIX) => `${prefix}:${queue}:wait`;

export const KEDA_AUTH = 'arp-redis';
export const KEDA_SECRET = 'arp-keda-redis';

function scaledObject(stage: QueueName): ScaledObject {
  const s = STAGE_SIZING[stage];
  return new ScaledObject({
    metadata: { name: `arp-${stage}`, labels: labels(stage) },
    spec: {
      scaleTargetRef: { name: `arp-${stage}` },
      // Never zero: a stage's pods also retry delayed jobs (backoff) and run the sweeper, which a wait-list trigger does not see.
      minReplicaCount: 1,
      maxReplicaCount: s.maxReplicas,
      pollingInterval: 15,
      cooldownPeriod: 300,
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } } } },
      triggers: [
        {
          // One Redis. On a Redis Cluster (REDIS_CLUSTER_NODES) use type `redis-cluster` with the same
          // listName under the hash tag, `{arp}:<queue>:wait`, and the nodes in `addresses` (README, "Deploying").
          type: 'redis',
          metadata: { listName: waitListKey(stage), listLength: String(s.waitingPerPod), activationListLength: '0', databaseIndex: '0' },
          authenticationRef: { name: KEDA_AUTH },
        },
      ],
    },
  });
}

/** The manifests: file name → its objects. */
export function manifests(): Map<string, { header: string; objects: Array<{ toJSON(): unknown; validate(): void }> }> {
  const files = new Map<string, { header: string; objects: Array<{ toJSON(): unknown; validate(): void }> }>();

  files.set('config.yaml', {
    header: [
      'Settings that are not secret (README, "Configuration"). Optional ones you may add here:',
      '  OPENAI_BASE_URL (the LLM; its key is the Secret key OPENAI_API_KEY, mounted with OPENAI_API_KEY_FILE on the report stage),',
      '  WEBHOOK_ALLOWED_HOSTS (webhooks on), OTEL_EXPORTER_OTLP_ENDPOINT (traces), TENANT_* (spending defaults),',
      '  MEMORY_MAX_AGE, SEARCH_CACHE_TTL, PROVIDER_TIMEOUT_MS, JOB_LOCK_MS, …',
      '  REDIS_CLUSTER_NODES=host:port,… runs every process on a Redis Cluster (it takes precedence over REDIS_URL).',
      'Secrets are files from the Secret arp-secrets, which you create (never committed):',
      '  kubectl create secret generic arp-secrets --from-file=API_KEYS=… --from-file=ADMIN_PASSWORD=… \\',
      '    --from-file=DATA_ENCRYPTION_KEYS=… --from-file=TOKEN_ISSUER_API_KEY=… --from-file=WEBHOOK_SECRET=… \\',
      '    --from-file=REDIS_URL=… --from-file=DATABASE_URL=…',
    ].join('\n'),
    objects: [new ConfigMap({ metadata: { name: CONFIG_MAP, labels: labels('config') }, data: CONFIG })],
  });

  const gatewaySpec = podSpec('gateway', 'gateway', [], { HOST: '0.0.0.0', PORT: String(GATEWAY_PORT) }, { name: 'http', number: GATEWAY_PORT }, GATEWAY.size, GATEWAY_PRE_STOP_SECONDS);
  files.set('gateway.yaml', {
    header: 'The HTTP API, the console and Bull Board: Deployment, Service, Ingress (TLS; event streams unbuffered), PodDisruptionBudget.',
    objects: [
      deployment('arp-gateway', 'gateway', gatewaySpec, GATEWAY.replicas),
      new Service({ metadata: { name: 'arp-gateway', labels: labels('gateway') }, spec: { type: 'ClusterIP', selector: selector('gateway'), ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] } }),
      new Ingress({
        metadata: {
          name: 'arp-gateway',
          labels: labels('gateway'),
          annotations: {
            // GET /v1/tasks/:id/events is a server-sent event stream: no buffering, long reads.
            'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
            'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
            'nginx.ingress.kubernetes.io/proxy-body-size': '1m',
          },
        },
        spec: {
          ingressClassName: 'nginx',
          tls: [{ hosts: ['arp.example.com'], secretName: 'arp-tls' }],
          rules: [{ host: 'arp.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'arp-gateway', port: { name: 'http' } } } }] } }],
        },
      }),
      pdb('arp-gateway', 'gateway'),
    ],
  });

  files.set('keda.yaml', {
    header: [
      "KEDA's access to Redis for the queue-backlog triggers: a Secret arp-keda-redis you create with the keys",
      '`address` (host:port of REDIS_URL) and `password` (empty when none):',
      '  kubectl create secret generic arp-keda-redis --from-literal=address=redis:6379 --from-literal=password=…',
      'On a Redis Cluster, the redis-cluster scaler takes `addresses` (host:port,…) instead of `address`.',
    ].join('\n'),
    objects: [
      new TriggerAuthentication({
        metadata: { name: KEDA_AUTH, labels: labels('autoscaling') },
        spec: { secretTargetRef: [{ parameter: 'address', name: KEDA_SECRET, key: 'address' }, { parameter: 'password', name: KEDA_SECRET, key: 'password' }] },
      }),
    ],
  });

  for (const stage of STAGES) {
    const s = STAGE_SIZING[stage];
    const spec = podSpec('worker', stage, [stage], { WORKER_HTTP_PORT: String(WORKER_HTTP_PORT), WORKER_HTTP_HOST: '0.0.0.0' }, { name: 'metrics', number: WORKER_HTTP_PORT }, s.size, 0);
    files.set(`stage-${stage}.yaml`, {
      header: [
        `The ${stage} stage: its workers (probes and /metrics on WORKER_HTTP_PORT), PodDisruptionBudget, and KEDA ScaledObject on the backlog of its queue (${waitListKey(stage)}).`,
        `On a Redis Cluster (REDIS_CLUSTER_NODES): trigger type redis-cluster, listName "{${QUEUE_PREFIX}}:${stage}:wait" (the prefix is the hash tag), addresses from arp-keda-redis.`,
      ].join('\n'),
      objects: [
        deployment(`arp-${stage}`, stage, spec, undefined, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(WORKER_HTTP_PORT), 'prometheus.io/path': '/metrics' }),
        pdb(`arp-${stage}`, stage),
        scaledObject(stage),
      ],
    });
  }
  return files;
}

const BANNER = '# Generated by infra/k8s/generate.ts (npm run k8s:generate): edit that, not this file.\n';

/** Every file's text: validated objects, as YAML documents. */
export function render(): Map<string, string> {
  const out = new Map<string, string>();
  const resources: string[] = [];
  for (const [file, { header, objects }] of manifests()) {
    const docs = objects.map((o) => {
      o.validate();
      return stringify(o.toJSON(), { lineWidth: 0 });
    });
    out.set(file, `${BANNER}${header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n${docs.map((d) => `---\n${d}`).join('')}`);
    resources.push(file);
  }
  out.set(
    'kustomization.yaml',
    `${BANNER}# kubectl apply -k infra/k8s (the Secrets arp-secrets and arp-keda-redis first). Set the image, e.g.:\n#   kustomize edit set image ${IMAGE}=ghcr.io/<owner>/${APP}:<commit>\n` +
      stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources, images: [{ name: IMAGE, newName: `ghcr.io/your-org/${APP}`, newTag: 'latest' }] }, { lineWidth: 0 }),
  );
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = new URL('.', import.meta.url);
  for (const [file, text] of render()) writeFileSync(new URL(file, dir), text);
  process.stdout.write(`wrote ${[...render().keys()].map((f) => `infra/k8s/${f}`).join(', ')}\n`);
}
