import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Why a real Redis Cluster cannot be started here, or undefined when it can. */
export function redisClusterUnavailable(): string | undefined {
  for (const tool of ['redis-server', 'redis-cli']) {
    if (spawnSync(tool, ['--version']).error) return `${tool} is not on the PATH (Debian/Ubuntu: apt-get install redis-server redis-tools)`;
  }
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', () => done(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => done(true)));
  });
}

/**
 * `count` consecutive loopback ports below 45000 that are free, each with its cluster bus port
 * (port + 10000, so below 55000) free too.
 */
async function freeClusterPorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 24_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const free = await Promise.all(ports.flatMap((p) => [portFree(p), portFree(p + 10_000)]));
    if (free.every(Boolean)) return ports;
  }
  throw new Error('no free block of loopback ports for a Redis Cluster');
}

interface Node {
  port: number;
  dir: string;
  child: ChildProcess;
  exited: Promise<unknown>;
}

/** A node as CLUSTER NODES tells it. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  slots: Array<[number, number]>;
}

/**
 * A real Redis Cluster on loopback: `masters` masters with one replica each, every node a redis-server
 * of its own (its own directory, nothing kept on disk), made a cluster by `redis-cli --cluster create`.
 * A short node timeout, so a master that dies is failed over within seconds.
 */
export class RedisClusterServers {
  readonly nodes: Node[] = [];
  /** `127.0.0.1:port,…`: the value of REDIS_CLUSTER_NODES. */
  seeds = '';

  constructor(
    private readonly masters = 3,
    private readonly nodeTimeoutMs = 1_000,
  ) {}

  async start(): Promise<void> {
    const ports = await freeClusterPorts(this.masters * 2);
    for (const port of ports) {
      const dir = mkdtempSync(join(tmpdir(), `arp-redis-cluster-${port}-`));
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(this.nodeTimeoutMs), '--save', '', '--appendonly', 'no', '--logfile', 'redis.log'];
      const child = spawn('redis-server', args, { stdio: 'ignore' });
      this.nodes.push({ port, dir, child, exited: new Promise((r) => child.once('exit', r)) });
    }
    for (const node of this.nodes) await this.waitPing(node.port);
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    this.seeds = ports.map((p) => `127.0.0.1:${p}`).join(',');
    await this.waitHealthy(30_000);
  }

  private async waitPing(port: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = this.client(port);
      try {
        await r.connect();
        await r.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await new Promise((res) => setTimeout(res, 50));
      } finally {
        r.disconnect();
      }
    }
  }

  private client(port: number): Redis {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
    r.on('error', () => {});
    return r;
  }

  /** Runs one command on one node (a fresh connection). */
  async on<T>(port: number, ...args: [string, ...Array<string | number>]): Promise<T> {
    const r = this.client(port);
    try {
      await r.connect();
      return (await r.call(...args)) as T;
    } finally {
      r.disconnect();
    }
  }

  /** The nodes still running. */
  alive(): Node[] {
    return this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  }

  /** CLUSTER NODES as seen by a running node. */
  async topology(): Promise<ClusterNodeInfo[]> {
    const text = await this.on<string>(this.alive()[0]!.port, 'CLUSTER', 'NODES');
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, addr, flags, , , , , , ...slots] = line.split(' ');
        return {
          id: id!,
          port: Number(addr!.split('@')[0]!.split(':')[1]),
          master: flags!.split(',').includes('master'),
          failed: /fail/.test(flags!),
          slots: slots.filter((s) => /^\d/.test(s)).map((s) => {
            const [a, b] = s.split('-').map(Number);
            return [a!, b ?? a!] as [number, number];
          }),
        };
      });
  }

  /** The slot of a key (CLUSTER KEYSLOT). */
  async keySlot(key: string): Promise<number> {
    return this.on<number>(this.alive()[0]!.port, 'CLUSTER', 'KEYSLOT', key);
  }

  /** The port of the healthy master that serves a slot now. */
  async masterOf(slot: number): Promise<number | undefined> {
    return (await this.topology()).find((n) => n.master && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b))?.port;
  }

  /**
   * Every running node says the cluster is ok, and every replica's link to its master is up (a replica
   * still in its first sync would not be elected when its master dies).
   */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.alive().map((n) => this.on<string>(n.port, 'CLUSTER', 'INFO').catch(() => '')));
      const links = await Promise.all(this.alive().map((n) => this.on<string>(n.port, 'INFO', 'replication').catch(() => '')));
      if (states.every((s) => /cluster_state:ok/.test(s)) && links.every((l) => /role:master/.test(l) || /master_link_status:up/.test(l))) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster is not ok after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL one node, as a crash would. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port)!;
    if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
    await node.exited;
  }

  /** Stops every node started here (by its process) and removes their directories. */
  async close(): Promise<void> {
    for (const n of this.nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await Promise.all(this.nodes.map((n) => n.exited));
    for (const n of this.nodes) rmSync(n.dir, { recursive: true, force: true });
  }
}
