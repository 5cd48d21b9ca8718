import { PermanentError, TransientError } from '../../shared/errors.ts';
import { safeUrl, signature } from '../../shared/webhooks/send.ts';
import type { Processor, StageDeps } from '../deps.ts';
import type { Payload } from '../payloads.ts';

/**
 * Webhook: POSTs a task's final view to the URL it was submitted with, signed (`X-Signature: t=<unix>,
 * v1=<HMAC-SHA256 of "t.body">`, WEBHOOK_SECRET), with `X-Webhook-Id` the same on every attempt so a
 * receiver can tell a retry from a new delivery. The body is fixed at the first attempt, so every retry
 * sends the same bytes (with a fresh time and signature). A 2xx delivers it; anything else is tried again
 * with the queue's backoff until WEBHOOK_RETRY_WINDOW after the task ended; an address that is not
 * allowed is given up at once. Every attempt is recorded (GET /v1/tasks/:id/webhooks).
 */
export const processWebhook: Processor<Payload<'webhook'>> = async ({ deliveryId }, deps, ctx) => {
  const delivery = await deps.repos.webhooks.get(deliveryId);
  if (!delivery || delivery.state !== 'pending') return { skipped: delivery?.state ?? 'missing' };
  const body = delivery.body ?? (await deps.repos.webhooks.fixBody(deliveryId, JSON.stringify(await deps.webhooks.render(delivery.task_id))));
  const sent = await deps.webhooks.sender.post(delivery.url, body, {
    'x-signature': signature(deps.webhooks.secret, body, Math.floor(Date.now() / 1000)),
    'x-webhook-id': String(deliveryId),
    'x-webhook-event': delivery.event,
    'x-webhook-attempt': String(ctx.attempt),
  });
  const delivered = sent.status !== null && sent.status >= 200 && sent.status < 300;
  const windowOver = Date.now() - delivery.created_at.getTime() >= deps.webhooks.retryWindowMs;
  const final = !delivered && (sent.refused || windowOver || ctx.isFinalAttempt);
  const recorded = await deps.repos.webhooks.recordAttempt(deliveryId, { status: sent.status, error: sent.error, durationMs: sent.durationMs, delivered, final });
  const where = new URL(delivery.url).host;
  // What Bull Board shows: the host and the answer, never the URL's path or query (it may hold a token).
  if (delivered) return { delivered: true, host: where, status: sent.status, attempts: recorded?.attempts ?? ctx.attempt };
  if (final) {
    deps.log.warn({ deliveryId, taskId: delivery.task_id, url: safeUrl(delivery.url), err: sent.error }, 'webhook given up');
    throw new PermanentError('webhook_failed', `${sent.refused ? 'refused' : windowOver ? 'retry window over' : 'attempts spent'}: ${sent.error}`);
  }
  throw new TransientError('webhook_not_delivered', `${where}: ${sent.error}`);
};

/** A delivery whose job failed for good (its last attempt's error, or a crash of the stage): given up. */
export async function giveUpWebhook({ deliveryId }: Payload<'webhook'>, deps: StageDeps, err: Error): Promise<void> {
  await deps.repos.webhooks.fail(deliveryId, err.message);
}

/**
 * Queues the webhook deliveries of a task that has just ended (written with its end, tasks.ts `end`). With
 * `written`, the ids the end wrote (pending, just inserted): queued as they are, nothing read back.
 */
export async function announceEnd(deps: Pick<StageDeps, 'repos' | 'producer' | 'log'>, taskId: string, written?: readonly number[]): Promise<void> {
  const pending = written ?? (await deps.repos.webhooks.forTask(taskId)).filter((d) => d.state === 'pending').map((d) => Number(d.id));
  for (const id of pending) {
    // Safe in Postgres already: when Redis does not take it now, the sweeper queues it.
    await deps.producer.webhook(id, taskId).catch((err: Error) => deps.log.warn({ taskId, err: err.message }, 'could not queue a webhook yet; the sweeper will'));
  }
}
