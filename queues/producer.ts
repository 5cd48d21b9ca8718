import { FlowProducer, Queue } from 'bullmq';
import { queuePrefix, type RedisClient } from './connection.ts';
import { QUEUE_NAMES, type QueueName } from './names.ts';
import { EVENTS_STREAM_MAX_LEN, jobId, jobOptions } from './options.ts';
import type { Payload } from './payloads.ts';
import { queueTelemetry } from '../shared/telemetry/tracing.ts';

/** Puts work on the queues. One per process; it owns no connection (the caller closes Redis). */
export class Producer {
  readonly queues: Record<QueueName, Queue>;
  private readonly flows: FlowProducer;
  /** The BullMQ prefix: QUEUE_PREFIX, or on a cluster QUEUE_PREFIX as a hash tag (`{arp}`, see queuePrefix). */
  readonly prefix: string;

  constructor(
    /** The producer's Redis connection (also the search cache's). */
    readonly connection: RedisClient,
    systemPrefix: string,
  ) {
    const prefix = (this.prefix = queuePrefix(connection, systemPrefix));
    // When tracing, each job carries the trace context of the span that added it (bullmq-otel), so the
    // worker that takes it continues the same trace: one trace per task, across processes and flows.
    const telemetry = queueTelemetry();
    const traced = telemetry ? { telemetry } : {};
    this.queues = Object.fromEntries(QUEUE_NAMES.map((name) => [name, new Queue(name, { connection, prefix, streams: { events: { maxLen: EVENTS_STREAM_MAX_LEN } }, ...traced })])) as Record<QueueName, Queue>;
    this.flows = new FlowProducer({ connection, prefix, ...traced });
  }

  async search(taskId: string): Promise<void> {
    await this.add('search', jobId.search(taskId), { taskId });
  }

  async authorize(taskId: string): Promise<void> {
    await this.add('authorize', jobId.authorize(taskId), { taskId });
  }

  async report(taskId: string): Promise<void> {
    await this.add('report', jobId.report(taskId), { taskId });
  }

  /**
   * The fan-out: one detail child per company, the report as their parent. BullMQ runs the parent
   * once every child has ended (children that failed for good are ignored, see options.ts).
   */
  async detailFlow(taskId: string, companyIds: string[]): Promise<void> {
    if (companyIds.length === 0) return this.report(taskId);
    await this.flows.add({
      name: 'report',
      queueName: 'report',
      data: { taskId } satisfies Payload<'report'>,
      opts: jobOptions('report', jobId.report(taskId)),
      children: companyIds.map((companyId) => ({
        name: 'detail',
        queueName: 'detail',
        data: { taskId, companyId } satisfies Payload<'detail'>,
        opts: jobOptions('detail', jobId.detail(taskId, companyId)),
      })),
    });
  }

  /** One dashboard job per uncounted ledger row (the sweeper's); the id makes a second enqueue of the same row a no-op. */
  async dashboard(ledgerEntryIds: number[]): Promise<void> {
    if (ledgerEntryIds.length === 0) return;
    await this.queues.dashboard.addBulk(
      ledgerEntryIds.map((id) => ({ name: 'dashboard', data: { ledgerEntryId: id }, opts: jobOptions('dashboard', jobId.dashboard(id)) })),
    );
  }

  /** One job per webhook delivery; the id makes a second enqueue (the sweeper) a no-op while it exists. */
  async webhook(deliveryId: number, taskId: string): Promise<void> {
    await this.add('webhook', jobId.webhook(deliveryId), { deliveryId, taskId });
  }

  private async add<Q extends QueueName>(queue: Q, id: string, data: Payload<Q>): Promise<void> {
    await this.queues[queue].add(queue, data, jobOptions(queue, id));
  }

  async close(): Promise<void> {
    await Promise.all([...Object.values(this.queues).map((q) => q.close()), this.flows.close()]);
  }
}
