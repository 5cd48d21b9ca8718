import type { CompiledQuery, DatabaseConnection, Dialect } from 'kysely';
import { activeSpan, inSpan, SpanKind, tracingOn } from '../telemetry/tracing.ts';

const TRACED = Symbol('arp.traced');
/** The longest query text put on a span. */
const MAX_TEXT = 2_000;

/**
 * A dialect whose every query is a client span (`db.system.name`, `db.operation.name`, the
 * parameterised SQL text — parameter values never, they may be sealed secrets), a child of whatever
 * runs it: the HTTP request, the stage job. Queries outside any trace (the sweeper's periodic look)
 * make no span of their own. With tracing off the dialect is returned as it is: not a single extra call.
 */
export function tracedDialect(dialect: Dialect): Dialect {
  if (!tracingOn()) return dialect;
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => {
      const driver = dialect.createDriver();
      const acquire = driver.acquireConnection.bind(driver);
      driver.acquireConnection = async () => traced(await acquire());
      return driver;
    },
  };
}

/** Wraps a pooled connection's executeQuery once (the pool hands the same object out again). */
function traced(connection: DatabaseConnection): DatabaseConnection {
  const marked = connection as DatabaseConnection & { [TRACED]?: true };
  if (marked[TRACED]) return connection;
  const execute = connection.executeQuery.bind(connection);
  connection.executeQuery = <R,>(query: CompiledQuery) => {
    if (!activeSpan()) return execute<R>(query);
    const operation = operationOf(query.sql);
    return inSpan(`db ${operation}`, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': query.sql.slice(0, MAX_TEXT) } }, async (span) => {
      const result = await execute<R>(query);
      if (result.numAffectedRows !== undefined) span?.setAttribute('db.response.affected_rows', Number(result.numAffectedRows));
      span?.setAttribute('db.response.returned_rows', result.rows.length);
      return result;
    });
  };
  marked[TRACED] = true;
  return connection;
}

/** The statement's first keyword, lower case: select, insert, update, delete, with, begin, commit… */
function operationOf(text: string): string {
  return /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toLowerCase() ?? 'query';
}
