import { startTracing } from '../../shared/telemetry/sdk.ts';
import { dieOnStartError } from '../runtime/signals.ts';

/**
 * The first import of `npm start`: starts tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set); the program's
 * own code runs only once it is up (top-level await), so every span of the process is recorded.
 */
await startTracing('start').catch(dieOnStartError('npm start'));
