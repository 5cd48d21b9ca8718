import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

// ajv-formats is CommonJS with a default export; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

type Json = any;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** One request as it went out, for checking against an operation's parameters and body. */
export interface RequestSeen {
  method: string;
  /** Path and query, e.g. `/v1/tasks?limit=2`. */
  url: string;
  headers: Headers;
  body?: string;
}

/** One answer as it came back. */
export interface ResponseSeen {
  status: number;
  headers: Headers;
  body: string;
}

/** An operation of the document that a request's method and path match. */
export interface MatchedOperation {
  /** The path template, e.g. `/v1/tasks/{id}`. */
  template: string;
  method: (typeof METHODS)[number];
  operation: Json;
  pathParams: Record<string, string>;
}

/** `#/a/b~1c` → `urn:contract#/a/b~1c`, each segment escaped for a URI fragment (templates hold braces). */
function pointer(base: string, segments: (string | number)[]): string {
  return `${base}#/${segments.map((s) => encodeURIComponent(String(s).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
}

/** A path segment decoded; kept as it is when its percent-encoding is broken (the server decides what that means). */
function decodeOrKeep(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const essence = (type: string | null) => (type ?? '').split(';')[0]!.trim().toLowerCase();
const isJson = (type: string) => /^application\/([\w.!#$&^+-]+\+)?json$/.test(type);

/**
 * An OpenAPI 3.1 document, made into checks: does this answer (or this request) conform to the
 * operation its method and path match? Schemas are JSON Schema 2020-12, checked with ajv and its
 * formats. The answers name every mismatch with where it is.
 */
export class OpenApiContract {
  private readonly ajv: Ajv2020;
  private readonly base: string;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: Array<{ template: string; pattern: RegExp; names: string[] }>;
  /** The path part of each server URL (`/v1` of `http://host/v1`): a request path may carry it before a template. */
  private readonly basePaths: string[];

  constructor(
    readonly doc: Json,
    readonly name: string,
  ) {
    if (typeof doc?.openapi !== 'string' || !doc.openapi.startsWith('3.1')) throw new Error(`${name}: not an OpenAPI 3.1 document`);
    this.base = `urn:contract:${name.replace(/[^a-z0-9-]/gi, '-')}`;
    // Not strict: the document around the schemas (openapi, paths, …) and OpenAPI's own `example` are not JSON Schema keywords.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
    addFormats(this.ajv);
    // The document is not a JSON Schema as a whole, so it is not checked against the meta-schema (that also saves time).
    this.ajv.addSchema(doc, this.base, undefined, false);
    this.templates = Object.keys(doc.paths ?? {})
      .map((template) => {
        const names: string[] = [];
        const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)'));
        return { template, pattern: new RegExp(`^${source}$`), names };
      })
      // Literal paths before templated ones: `/v1/tasks/export` before `/v1/tasks/{id}`.
      .sort((a, b) => a.names.length - b.names.length);
    this.basePaths = (doc.servers ?? [])
      .map((s: { url: string }) => new URL(s.url, 'http://server.invalid').pathname.replace(/\/+$/, ''))
      .filter((p: string) => p !== '');
  }

  /** Reads a document from a YAML or JSON file. */
  static fromFile(path: string, name = path): OpenApiContract {
    return new OpenApiContract(parseYaml(readFileSync(path, 'utf8')), name);
  }

  /** The operation a method and path match, if the document has one. */
  match(method: string, path: string): MatchedOperation | undefined {
    for (const candidate of [path, ...this.basePaths.filter((b) => path.startsWith(`${b}/`)).map((b) => path.slice(b.length))]) {
      const found = this.matchPath(method, candidate);
      if (found) return found;
    }
    return undefined;
  }

  private matchPath(method: string, path: string): MatchedOperation | undefined {
    const m = method.toLowerCase() as MatchedOperation['method'];
    for (const { template, pattern, names } of this.templates) {
      const found = pattern.exec(path);
      if (!found) continue;
      const operation = this.doc.paths[template]?.[m];
      if (!operation) continue;
      const pathParams = Object.fromEntries(names.map((n, i) => [n, decodeOrKeep(found[i + 1]!)]));
      return { template, method: m, operation, pathParams };
    }
    return undefined;
  }

  /** Every mismatch between an answer and what the document says the operation answers. */
  responseProblems(method: string, url: string, res: ResponseSeen): string[] {
    const path = new URL(url, 'http://contract.invalid').pathname;
    const op = this.match(method, path);
    if (!op) return [`${method} ${path}: no such operation in ${this.name}`];
    const where = `${op.method.toUpperCase()} ${op.template} → ${res.status}`;
    const family = `${Math.floor(res.status / 100)}XX`;
    const key = [String(res.status), family, 'default'].find((k) => op.operation.responses?.[k]);
    if (!key) return [`${where}: status ${res.status} is not documented (documented: ${Object.keys(op.operation.responses ?? {}).join(', ')})`];
    const { node: response, at } = this.locate(op.operation.responses[key], ['paths', op.template, op.method, 'responses', key]);
    const problems: string[] = [];
    for (const [name, header] of Object.entries<Json>(response.headers ?? {})) {
      if (this.resolve(header).required && !res.headers.has(name)) problems.push(`${where}: required header ${name} is missing`);
    }
    if (!response.content) {
      if (res.body.length > 0) problems.push(`${where}: a body is not documented, got ${res.body.length} bytes`);
      return problems;
    }
    return [...problems, ...this.bodyProblems(where, [...at, 'content'], response.content, res.headers.get('content-type'), res.body)];
  }

  /** Every mismatch between a request and the operation's parameters and body. */
  requestProblems(req: RequestSeen): string[] {
    const url = new URL(req.url, 'http://contract.invalid');
    const op = this.match(req.method, url.pathname);
    if (!op) return [`${req.method} ${url.pathname}: no such operation in ${this.name}`];
    const where = `${op.method.toUpperCase()} ${op.template} (request)`;
    const problems: string[] = [];
    const declared: Array<{ p: Json; at: (string | number)[] }> = [
      ...(this.doc.paths[op.template].parameters ?? []).map((p: Json, i: number) => ({ p, at: ['paths', op.template, 'parameters', i] })),
      ...(op.operation.parameters ?? []).map((p: Json, i: number) => ({ p, at: ['paths', op.template, op.method, 'parameters', i] })),
    ];
    for (const { p: raw, at } of declared) {
      const p = this.resolve(raw);
      const value = p.in === 'path' ? op.pathParams[p.name] : p.in === 'query' ? (url.searchParams.get(p.name) ?? undefined) : p.in === 'header' ? (req.headers.get(p.name) ?? undefined) : undefined;
      if (value === undefined) {
        if (p.required) problems.push(`${where}: required ${p.in} parameter ${p.name} is missing`);
        continue;
      }
      const schemaAt = raw.$ref ? this.refSegments(raw.$ref) : at;
      const errors = this.check([...schemaAt, 'schema'], this.coerce(value, p.schema));
      if (errors) problems.push(`${where}: ${p.in} parameter ${p.name}=${JSON.stringify(value)} ${errors}`);
    }
    const body = op.operation.requestBody ? this.locate(op.operation.requestBody, ['paths', op.template, op.method, 'requestBody']) : undefined;
    if (!req.body) {
      if (body?.node.required) problems.push(`${where}: the body is required`);
      return problems;
    }
    if (!body) return [...problems, `${where}: a body is not documented, got ${req.body.length} bytes`];
    return [...problems, ...this.bodyProblems(where, [...body.at, 'content'], body.node.content, req.headers.get('content-type'), req.body)];
  }

  /** Every example of the document (media types, parameters, schemas) that its own schema refuses. */
  exampleProblems(): string[] {
    const problems: string[] = [];
    const visit = (node: Json, at: (string | number)[]) => {
      if (!node || typeof node !== 'object') return;
      const hasSchema = node.schema && typeof node.schema === 'object';
      if (hasSchema && 'example' in node) {
        const e = this.check([...at, 'schema'], node.example);
        if (e) problems.push(`${at.join('/')}/example ${e}`);
      }
      if (hasSchema && node.examples && typeof node.examples === 'object' && !Array.isArray(node.examples)) {
        for (const [name, ex] of Object.entries<Json>(node.examples)) {
          const e = this.check([...at, 'schema'], this.resolve(ex).value);
          if (e) problems.push(`${at.join('/')}/examples/${name} ${e}`);
        }
      }
      for (const [k, v] of Object.entries<Json>(node)) visit(v, [...at, k]);
    };
    visit(this.doc.paths, ['paths']);
    for (const part of ['responses', 'requestBodies', 'parameters', 'headers']) visit(this.doc.components?.[part], ['components', part]);
    for (const [name, schema] of Object.entries<Json>(this.doc.components?.schemas ?? {})) {
      const at = ['components', 'schemas', name];
      if ('example' in schema) {
        const e = this.check(at, schema.example);
        if (e) problems.push(`${at.join('/')}/example ${e}`);
      }
      for (const [i, ex] of (Array.isArray(schema.examples) ? schema.examples : []).entries()) {
        const e = this.check(at, ex);
        if (e) problems.push(`${at.join('/')}/examples/${i} ${e}`);
      }
    }
    return problems;
  }

  /** Validates a value against the schema at a place in the document; the errors in words, or undefined. */
  check(at: (string | number)[], value: unknown): string | undefined {
    const ref = pointer(this.base, at);
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.getSchema(ref);
      if (!validate) throw new Error(`${this.name}: no schema at #/${at.join('/')}`);
      this.compiled.set(ref, validate);
    }
    if (validate(value)) return undefined;
    return this.ajv.errorsText(validate.errors, { dataVar: 'body', separator: '; ' });
  }

  private bodyProblems(where: string, at: (string | number)[], content: Json, contentType: string | null, text: string): string[] {
    const type = essence(contentType);
    const key = Object.keys(content).find((k) => k.toLowerCase() === type) ?? Object.keys(content).find((k) => k === '*/*' || (k.endsWith('/*') && type.startsWith(k.slice(0, -1))));
    if (!key) return [`${where}: content type "${contentType}" is not documented (documented: ${Object.keys(content).join(', ')})`];
    if (!content[key].schema) return [];
    let value: unknown = text;
    if (isJson(type)) {
      try {
        value = JSON.parse(text);
      } catch {
        return [`${where}: the ${type} body is not JSON: ${text.slice(0, 120)}`];
      }
    }
    const errors = this.check([...at, key, 'schema'], value);
    return errors ? [`${where}: ${errors} — in ${JSON.stringify(value).slice(0, 400)}`] : [];
  }

  /** A parameter's text as the type its schema asks for (query and header values are text on the wire). */
  private coerce(value: string, schema: Json): unknown {
    const types = [schema?.type].flat();
    if ((types.includes('integer') || types.includes('number')) && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    if (types.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
    return value;
  }

  private refSegments(ref: string): string[] {
    if (!ref.startsWith('#/')) throw new Error(`${this.name}: only local $refs are supported, got ${ref}`);
    return ref.slice(2).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  }

  /** A node and where it is, following a local `$ref` (so schemas under it are addressed where they live). */
  private locate(node: Json, at: (string | number)[]): { node: Json; at: (string | number)[] } {
    let current = { node, at };
    for (let hops = 0; current.node?.$ref && hops < 10; hops++) {
      const segments = this.refSegments(current.node.$ref);
      current = { node: segments.reduce((n: Json, s) => n?.[s], this.doc), at: segments };
    }
    return current;
  }

  /** A node of the document with its local `$ref` followed (a response, parameter, example, header). */
  resolveNode(node: Json): Json {
    return this.resolve(node);
  }

  /** Follows a local `$ref` (responses, parameters, examples, headers may be references). */
  private resolve(node: Json): Json {
    let current = node;
    for (let hops = 0; current?.$ref && hops < 10; hops++) {
      current = this.refSegments(current.$ref).reduce((n: Json, s) => n?.[s], this.doc);
    }
    return current;
  }

  /** Every operation of the document as `METHOD /template`. */
  operations(): string[] {
    return Object.entries<Json>(this.doc.paths ?? {}).flatMap(([template, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${template}`));
  }
}

/** Throws with every problem found, one per line. */
export function assertNoProblems(what: string, problems: string[]): void {
  if (problems.length) throw new Error(`${what} does not conform to its contract:\n  ${problems.join('\n  ')}`);
}
