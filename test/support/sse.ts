import { createParser } from 'eventsource-parser';

/** What a Server-Sent Events answer carried: each event with its `id:` and `event:`, and the comment lines. */
export interface SseRead {
  events: Array<{ id: string | undefined; event: string | undefined; data: any }>;
  comments: string[];
  /** The stream ended by itself (not cut by us). */
  closed: boolean;
}

/**
 * Reads an event stream until it closes, `until` says enough, or `timeoutMs` passes (then it is cut; no
 * error — the caller asserts on what came). Works on a fetch Response or an in-process app's answer.
 */
export async function readSse(res: Response, opts: { until?: (read: SseRead) => boolean; timeoutMs?: number; into?: SseRead } = {}): Promise<SseRead> {
  const read: SseRead = opts.into ?? emptyRead();
  const parser = createParser({
    onEvent: (m) => read.events.push({ id: m.id, event: m.event, data: JSON.parse(m.data) }),
    onComment: (c) => read.comments.push(c.trim()),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let cut = false;
  const timer = setTimeout(() => {
    cut = true;
    void reader.cancel().catch(() => undefined);
  }, opts.timeoutMs ?? 10_000);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        read.closed = !cut;
        break;
      }
      parser.feed(decoder.decode(value, { stream: true }));
      if (opts.until?.(read)) {
        await reader.cancel().catch(() => undefined);
        break;
      }
    }
  } catch {
    // cut
  } finally {
    clearTimeout(timer);
  }
  return read;
}

/** A fresh record to read into (pass it as `into` to watch a stream while it is read). */
export const emptyRead = (): SseRead => ({ events: [], comments: [], closed: false });
