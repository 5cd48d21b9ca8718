import { z } from 'zod';
import type { QueueName } from './names.ts';

const taskId = z.uuid();

/** The payload of each queue's jobs: ids only; the facts live in Postgres. */
export const PAYLOADS = {
  search: z.object({ taskId }),
  authorize: z.object({ taskId }),
  detail: z.object({ taskId, companyId: z.string().min(1).max(200) }),
  report: z.object({ taskId }),
  dashboard: z.object({ ledgerEntryId: z.number().int().positive() }),
  // The task id only so operators see whose delivery it is (Bull Board); never the URL.
  webhook: z.object({ deliveryId: z.number().int().positive(), taskId }),
} satisfies Record<QueueName, z.ZodType>;

export type Payload<Q extends QueueName> = z.infer<(typeof PAYLOADS)[Q]>;
