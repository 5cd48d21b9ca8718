import { readdirSync, readFileSync } from 'node:fs';
import { QueueKeys } from 'bullmq';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { render, SECRET_DIR } from '../../infra/k8s/generate.ts';
import { PROGRAM_SCRIPT, productionRequirements, programCommand, STAGES, type Program } from '../../infra/process-model.ts';
import { configSchema } from '../../shared/config.ts';
import { FILE_BACKED_VARIABLES } from '../../shared/secret-files.ts';
import { refusal } from './support.ts';

const DIR = new URL('../../infra/k8s/', import.meta.url);

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are read as plain YAML, as kubectl reads them */
type Obj = any;

/** Every object of the committed manifests, as applied. */
const objects: Obj[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => parseAllDocuments(readFileSync(new URL(f, DIR), 'utf8')).map((d) => d.toJS()))
  .filter(Boolean);
const find = (kind: string, name: string): Obj => objects.find((o) => o.kind === kind && o.metadata.name === name);
const configMap = objects.find((o) => o.kind === 'ConfigMap');
const deployments: Obj[] = objects.filter((o) => o.kind === 'Deployment');

/** The environment a container gets: its ConfigMap (envFrom) and its own entries. */
function containerEnv(container: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) Object.assign(env, find('ConfigMap', from.configMapRef.name).data);
  for (const e of container.env ?? []) env[e.name] = e.value;
  return env;
}

/** What a Deployment runs: the program (by its script) and its arguments. */
function programOf(container: Obj): { program: Program; args: string[] } {
  const command: string[] = container.command;
  const i = command.findIndex((part) => Object.values(PROGRAM_SCRIPT).includes(part));
  const program = (Object.keys(PROGRAM_SCRIPT) as Program[]).find((p) => PROGRAM_SCRIPT[p] === command[i])!;
  return { program, args: command.slice(i + 1) };
}

/**
 * infra/k8s (issue 17): the manifests are generated from infra/k8s/generate.ts and committed; they
 * describe every stage of queues/names.ts and give each program what its own start-up checks require in
 * production (infra/process-model.ts asks those checks), secrets as files.
 */
describe('infra/k8s manifests', () => {
  it('are what npm run k8s:generate writes, byte for byte, and nothing else', () => {
    const rendered = render();
    const committed = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
    expect(committed.sort()).toEqual([...rendered.keys()].sort());
    for (const [file, text] of rendered) expect(readFileSync(new URL(file, DIR), 'utf8'), `infra/k8s/${file} is stale: run npm run k8s:generate`).toBe(text);
    const kustomization = parseAllDocuments(readFileSync(new URL('kustomization.yaml', DIR), 'utf8'))[0]!.toJS();
    expect(kustomization.resources.sort()).toEqual(committed.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it('run one Deployment per stage (queues/names.ts) and one for the gateway, each as its own process', () => {
    const runs = deployments.map((d) => programOf(d.spec.template.spec.containers[0]));
    expect(runs.filter((r) => r.program === 'gateway')).toEqual([{ program: 'gateway', args: [] }]);
    expect(runs.filter((r) => r.program === 'worker').map((r) => r.args).sort()).toEqual(STAGES.map((s) => [s]).sort());
    // The compiled program (dist/) with plain node: no TypeScript loader at run time.
    for (const d of deployments) {
      const container = d.spec.template.spec.containers[0];
      const { program, args } = programOf(container);
      expect(container.command, d.metadata.name).toEqual(programCommand(program, args));
    }
  });

  it('give every program what its start-up checks require in production, secrets as files from the Secret', () => {
    for (const d of deployments) {
      const container = d.spec.template.spec.containers[0];
      const { program } = programOf(container);
      const env = containerEnv(container);
      expect(env.NODE_ENV, d.metadata.name).toBe('production');
      // Each required variable is there, a secret always as a file, never as a value.
      for (const variable of productionRequirements(program)) {
        const secret = (FILE_BACKED_VARIABLES as readonly string[]).includes(variable);
        expect(secret ? env[`${variable}_FILE`] : env[variable], `${d.metadata.name}: ${variable}`).toBeTruthy();
        if (secret) expect(env[variable], `${d.metadata.name}: ${variable} is a file`).toBeUndefined();
      }
      for (const name of Object.keys(env)) expect(configSchema.shape, `${d.metadata.name}: ${name} is a variable the product reads`).toHaveProperty(name.replace(/_FILE$/, ''));
      // Each file is mounted from the Secret, read-only, under the name the variable gives.
      const mount = container.volumeMounts.find((m: Obj) => m.mountPath === SECRET_DIR);
      expect(mount.readOnly).toBe(true);
      const volume = d.spec.template.spec.volumes.find((v: Obj) => v.name === mount.name);
      const files = Object.entries(env).filter(([k]) => k.endsWith('_FILE')).map(([, v]) => v.slice(SECRET_DIR.length + 1));
      expect(volume.secret.items.map((i: Obj) => i.path).sort(), d.metadata.name).toEqual(files.sort());
      // And the program, given that environment (secrets filled in), starts: its checks refuse nothing.
      expect(refusal(program, env, SECRET_DIR), d.metadata.name).toBeUndefined();
    }
  });

  it('probe /healthz (liveness) and /readyz (readiness) on the port each program serves them on', () => {
    for (const d of deployments) {
      const container = d.spec.template.spec.containers[0];
      const { program } = programOf(container);
      const env = containerEnv(container);
      const port = Number(program === 'gateway' ? env.PORT : env.WORKER_HTTP_PORT);
      expect(env[program === 'gateway' ? 'HOST' : 'WORKER_HTTP_HOST'], d.metadata.name).toBe('0.0.0.0');
      const named = container.ports.find((p: Obj) => p.containerPort === port);
      expect(named, d.metadata.name).toBeTruthy();
      for (const [probe, path] of [['startupProbe', '/healthz'], ['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
        expect(container[probe].httpGet, `${d.metadata.name} ${probe}`).toEqual({ path, port: named.name });
      }
    }
  });

  it('give each pod longer to stop than the process takes (SHUTDOWN_TIMEOUT_MS, its hard exit, any preStop)', () => {
    const shutdownMs = Number(configMap.data.SHUTDOWN_TIMEOUT_MS ?? configSchema.shape.SHUTDOWN_TIMEOUT_MS.parse(undefined));
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      const preStop = pod.containers[0].lifecycle?.preStop?.exec?.command;
      const preStopMs = preStop ? Number(preStop[1]) * 1000 : 0;
      // apps/runtime/signals.ts exits by force SHUTDOWN_TIMEOUT_MS + 1 s after SIGTERM.
      expect(pod.terminationGracePeriodSeconds * 1000, d.metadata.name).toBeGreaterThan(preStopMs + shutdownMs + 1_000);
    }
  });

  it('set requests and limits on every container, and a PodDisruptionBudget on every Deployment', () => {
    const bytes = (q: string) => Number(q.replace(/Mi$/, '')) * 2 ** 20;
    const cpu = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
    for (const d of deployments) {
      const { requests, limits } = d.spec.template.spec.containers[0].resources;
      expect(cpu(requests.cpu)).toBeLessThanOrEqual(cpu(limits.cpu));
      expect(bytes(requests.memory)).toBeLessThanOrEqual(bytes(limits.memory));
      const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget' && JSON.stringify(o.spec.selector.matchLabels) === JSON.stringify(d.spec.selector.matchLabels));
      expect(pdbs, d.metadata.name).toHaveLength(1);
      expect(pdbs[0].spec.maxUnavailable).toBe(1);
      // The selector matches the pods (else the Deployment would be refused).
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    }
  });

  it("scale every stage with KEDA on its queue's BullMQ wait list, and no stage's replicas are pinned", () => {
    const prefix = configMap.data.QUEUE_PREFIX;
    for (const stage of STAGES) {
      const d = deployments.find((x) => programOf(x.spec.template.spec.containers[0]).args[0] === stage);
      expect(d.spec.replicas, stage).toBeUndefined();
      const scaled = objects.filter((o) => o.kind === 'ScaledObject' && o.spec.scaleTargetRef.name === d.metadata.name);
      expect(scaled, stage).toHaveLength(1);
      const [trigger] = scaled[0].spec.triggers;
      expect(trigger.type).toBe('redis');
      // The key bullmq itself uses for the queue's waiting jobs.
      expect(trigger.metadata.listName).toBe(new QueueKeys(prefix).toKey(stage, 'wait'));
      expect(Number(trigger.metadata.listLength)).toBeGreaterThan(0);
      expect(scaled[0].spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(find('TriggerAuthentication', trigger.authenticationRef.name), stage).toBeTruthy();
    }
  });

  it('expose the gateway through a Service and an Ingress that reach its port', () => {
    const gateway = deployments.find((d) => programOf(d.spec.template.spec.containers[0]).program === 'gateway');
    const service = objects.find((o) => o.kind === 'Service' && JSON.stringify(o.spec.selector) === JSON.stringify(gateway.spec.selector.matchLabels));
    expect(service).toBeTruthy();
    const portNames = gateway.spec.template.spec.containers[0].ports.map((p: Obj) => p.name);
    expect(portNames).toContain(service.spec.ports[0].targetPort);
    const ingress = objects.find((o) => o.kind === 'Ingress');
    expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toBe(service.metadata.name);
    expect(ingress.spec.tls?.length).toBeGreaterThan(0);
  });
});
