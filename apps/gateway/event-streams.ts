import type { RedisClient } from '../../queues/connection.ts';
import type { TaskEvent } from '../../shared/db/index.ts';
import type { TaskEventRepository } from '../../shared/db/events.ts';
import { taskEventChannel, taskEventChannelPrefix } from '../../shared/events/wakeups.ts';
import type { Logger } from '../../shared/log.ts';

/** One open stream of a task's story, as the hub feeds it. */
export interface EventSink {
  /** The last `seq` this stream has been given (it is given only what comes after). */
  position: number;
  /** Events after `position`, in order; the sink moves its position on as it takes them. */
  deliver(events: TaskEvent[]): void;
  /** A comment line, so proxies and clients see the connection alive. */
  heartbeat(): void;
  /** The hub is closing: end the stream. */
  close(): void;
}

export interface EventStreamSettings {
  /** Comment heartbeat on every open stream, and a look at the table for wake-ups that never came. */
  heartbeatMs: number;
  /** Without a Redis subscriber, how often the table is looked at instead. */
  pollMs?: number;
  /** Events read per query. */
  pageSize?: number;
}

/** Every stream a gateway holds on one task: one reader of the table for all of them. */
class Tail {
  readonly sinks = new Set<EventSink>();
  private fetching: Promise<void> | undefined;
  private again = false;
  /** Resolves once the subscription of this task's channel is in place. */
  subscribed: Promise<void> = Promise.resolve();

  constructor(
    readonly taskId: string,
    private readonly events: TaskEventRepository,
    private readonly pageSize: number,
    private readonly log: Logger,
  ) {}

  /** The furthest-behind stream's position: one read from there serves every stream. */
  low(): number {
    let low = Infinity;
    for (const s of this.sinks) low = Math.min(low, s.position);
    return low;
  }

  /** Reads what is new and hands it out; calls while a read runs make one more read after it. */
  read(): Promise<void> {
    if (this.fetching) {
      this.again = true;
      return this.fetching;
    }
    this.fetching = (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const from = this.low();
            if (from === Infinity) return;
            const page = await this.events.since(this.taskId, from, this.pageSize);
            for (const sink of [...this.sinks]) sink.deliver(page);
            if (page.length < this.pageSize) break;
          }
        } while (this.again);
      } catch (err) {
        this.log.warn({ taskId: this.taskId, err: (err as Error).message }, 'could not read task events; the next wake-up or heartbeat tries again');
      } finally {
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }
}

/**
 * A gateway's live follow of task stories (GET /v1/tasks/:id/events). The table is the story; Redis
 * pub/sub only wakes it: a worker that commits an event publishes on the task's channel
 * (shared/events/wakeups.ts), and every gateway holding a stream of that task reads the table from its
 * slowest stream's position — one query per task per wake-up, however many streams it serves. A task's
 * events commit in `seq` order (shared/db/events.ts), so "after my position" never skips one. On every
 * heartbeat, one query compares each followed task's last `seq` with what its streams have, and reads
 * the ones behind: a lost wake-up (a worker killed between commit and publish, Redis away) costs at most
 * one heartbeat. After Redis comes back, every followed task is read at once.
 */
export class TaskEventStreams {
  private readonly tails = new Map<string, Tail>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly channelPrefix: string;
  private closed = false;

  constructor(
    private readonly events: TaskEventRepository,
    private readonly subscriber: RedisClient | undefined,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly settings: EventStreamSettings,
  ) {
    this.channelPrefix = taskEventChannelPrefix(prefix);
    const heartbeat = setInterval(() => this.beat(), settings.heartbeatMs);
    heartbeat.unref();
    this.timers.push(heartbeat);
    if (subscriber) {
      subscriber.on('message', (channel: string) => {
        if (channel.startsWith(this.channelPrefix)) void this.tails.get(channel.slice(this.channelPrefix.length))?.read();
      });
      // ioredis subscribes again after a reconnect; what was published in between is lost: look now.
      subscriber.on('ready', () => void this.catchUp());
    } else {
      const poll = setInterval(() => void this.catchUp(), settings.pollMs ?? 1_000);
      poll.unref();
      this.timers.push(poll);
    }
  }

  /** How many streams are open, and on how many tasks. */
  get size(): { streams: number; tasks: number } {
    let streams = 0;
    for (const t of this.tails.values()) streams += t.sinks.size;
    return { streams, tasks: this.tails.size };
  }

  /**
   * Follows a task from `sink.position`: what is already stored is delivered at once, then every new
   * event as it commits. Returns the function that stops following.
   */
  async follow(taskId: string, sink: EventSink): Promise<() => void> {
    if (this.closed) {
      sink.close();
      return () => undefined;
    }
    let tail = this.tails.get(taskId);
    if (!tail) {
      tail = new Tail(taskId, this.events, this.settings.pageSize ?? 500, this.log);
      this.tails.set(taskId, tail);
      // Subscribed before the first read, so an event committed after that read wakes it.
      tail.subscribed = this.subscriber
        ? this.subscriber.subscribe(taskEventChannel(this.prefix, taskId)).then(
            () => undefined,
            (err: Error) => this.log.warn({ taskId, err: err.message }, 'could not subscribe to task events; following by heartbeat'),
          )
        : Promise.resolve();
    }
    tail.sinks.add(sink);
    await tail.subscribed;
    await tail.read();
    return () => this.unfollow(taskId, sink);
  }

  private unfollow(taskId: string, sink: EventSink): void {
    const tail = this.tails.get(taskId);
    if (!tail || !tail.sinks.delete(sink) || tail.sinks.size > 0) return;
    this.tails.delete(taskId);
    this.subscriber?.unsubscribe(taskEventChannel(this.prefix, taskId)).catch(() => undefined);
  }

  /** Reads every followed task whose last `seq` is past what its slowest stream has. */
  private async catchUp(): Promise<void> {
    if (this.tails.size === 0) return;
    try {
      const heads = await this.events.heads([...this.tails.keys()]);
      for (const [taskId, head] of heads) {
        const tail = this.tails.get(taskId);
        if (tail && head > tail.low()) void tail.read();
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not look for task events');
    }
  }

  private beat(): void {
    for (const tail of this.tails.values()) for (const sink of tail.sinks) sink.heartbeat();
    void this.catchUp();
  }

  /** Ends every open stream (a gateway shutting down) and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const tail of this.tails.values()) for (const sink of tail.sinks) sink.close();
    this.tails.clear();
    if (this.subscriber) await this.subscriber.quit().catch(() => this.subscriber!.disconnect());
  }
}
